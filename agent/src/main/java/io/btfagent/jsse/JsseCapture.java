package io.btfagent.jsse;

import io.btfagent.event.OsThreads;
import io.btfagent.bootstrap.JsseBridge;
import io.btfagent.event.EventView;
import io.btfagent.event.RecordDecoder;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.util.concurrent.atomic.LongAdder;
import java.util.function.Consumer;
import java.util.function.LongSupplier;
import javax.net.ssl.SSLEngine;

/**
 * Turns what the woven JDK TLS classes report into events, on the application's thread that
 * made the call: one event per call that moved application bytes, in the schema of the native
 * events ({@code lib} {@code jsse}), handed to the same publisher (redaction, then every
 * sink's queue, which copies it).
 *
 * <p>Per call and per thread it allocates nothing once the thread's buffers have grown to the
 * calls' size: the thread's reused {@link EventView} and data array, and per connection
 * strings made once. Without a sink only the counters move.
 */
public final class JsseCapture implements JsseBridge.Listener {
    /** {@code func} of each event: the API the application called. */
    static final String WRAP = "SSLEngine.wrap";
    static final String UNWRAP = "SSLEngine.unwrap";
    static final String WRITE = "SSLSocket.write";
    static final String READ = "SSLSocket.read";

    /** mark(): the buffers' positions are in the thread's marks array. */
    private static final long MARKS_IN_THREAD = -2;

    private final JsseConnections connections;
    private final Consumer<EventView> publish;
    private final boolean sinks;
    private final int maxBytes;
    private final long monotonicToEpoch = RecordDecoder.monotonicToEpochOffset();
    private final int pid = (int) ProcessHandle.current().pid();

    private final LongAdder calls = new LongAdder();
    private final LongAdder bytes = new LongAdder();
    private final LongAdder callsTruncated = new LongAdder();
    private final LongAdder bytesTruncated = new LongAdder();
    private final LongAdder events = new LongAdder();
    private final LongAdder conns = new LongAdder();

    private final ThreadLocal<PerThread> threads = ThreadLocal.withInitial(PerThread::new);

    /** What one thread reuses from call to call. */
    private static final class PerThread {
        final EventView view = new EventView();
        byte[] data = new byte[256];
        final byte[] one = new byte[1];
        int[] marks = new int[8];
        String name;
        int tid;
    }

    /**
     * @param ids the conn sequence shared with the probes
     * @param publish the dispatcher's publish (redaction and the sinks' queues); must copy
     * @param sinks false when no sink is configured: only the counters are kept
     * @param maxBytes {@code capture.max-bytes}
     */
    public JsseCapture(LongSupplier ids, Consumer<EventView> publish, boolean sinks, int maxBytes) {
        this(ids, publish, sinks, maxBytes, JsseCapture.class.getClassLoader());
    }

    /** @param agent the loader whose code's connections are left out (the agent's), or null */
    JsseCapture(LongSupplier ids, Consumer<EventView> publish, boolean sinks, int maxBytes, ClassLoader agent) {
        this.connections = new JsseConnections(() -> {
            conns.increment();
            return ids.getAsLong();
        }, agent);
        this.publish = publish;
        this.sinks = sinks;
        this.maxBytes = maxBytes;
    }

    @Override
    public long mark(ByteBuffer[] buffers, int offset, int length) {
        if (length == 1) {
            return buffers[offset].position();
        }
        PerThread t = threads.get();
        if (t.marks.length < length) {
            t.marks = new int[Math.max(length, 2 * t.marks.length)];
        }
        for (int i = 0; i < length; i++) {
            ByteBuffer b = buffers[offset + i];
            t.marks[i] = b == null ? 0 : b.position();
        }
        return MARKS_IN_THREAD;
    }

    @Override
    public void engine(Object engine, boolean wrap, ByteBuffer[] buffers, int offset, int length, long mark) {
        PerThread t = null;
        long n;
        if (mark >= 0) {
            n = buffers[offset].position() - mark;
        } else {
            t = threads.get();
            n = 0;
            for (int i = 0; i < length; i++) {
                ByteBuffer b = buffers[offset + i];
                n += b == null ? 0 : b.position() - t.marks[i];
            }
        }
        if (n <= 0) {
            return; // a handshake step, or nothing fitted
        }
        JsseConnections.Conn c = connections.of(engine);
        if (c.own) {
            return;
        }
        calls.increment();
        bytes.add(n);
        int captured = (int) Math.min(n, maxBytes);
        if (captured < n) {
            callsTruncated.increment();
            bytesTruncated.add(n - captured);
        }
        if (!sinks) {
            return;
        }
        if (t == null) {
            t = threads.get();
        }
        byte[] data = room(t, captured);
        if (mark >= 0) {
            buffers[offset].get((int) mark, data, 0, captured);
        } else {
            int at = 0;
            for (int i = 0; i < length && at < captured; i++) {
                ByteBuffer b = buffers[offset + i];
                if (b == null) {
                    continue;
                }
                int k = Math.min(b.position() - t.marks[i], captured - at);
                b.get(t.marks[i], data, at, k);
                at += k;
            }
        }
        emit(t, c, engine, wrap ? WRAP : UNWRAP, wrap, n, captured);
    }

    @Override
    public void streamByte(Object socket, int b) {
        PerThread t = threads.get();
        t.one[0] = (byte) b;
        stream(socket, false, t.one, 0, 1);
    }

    @Override
    public void streamBuffer(Object socket, ByteBuffer b, int from) {
        int n = b.position() - from;
        if (n <= 0) {
            return;
        }
        JsseConnections.Conn c = connections.of(socket);
        if (c.own) {
            return;
        }
        int captured = count(n);
        if (!sinks) {
            return;
        }
        PerThread t = threads.get();
        b.get(from, room(t, captured), 0, captured);
        emit(t, c, socket, WRITE, true, n, captured);
    }

    /** Counts a call of {@code n} bytes; returns how many of them are captured. */
    private int count(int n) {
        calls.increment();
        bytes.add(n);
        int captured = Math.min(n, maxBytes);
        if (captured < n) {
            callsTruncated.increment();
            bytesTruncated.add(n - captured);
        }
        return captured;
    }

    @Override
    public void stream(Object socket, boolean write, byte[] b, int off, int n) {
        JsseConnections.Conn c = connections.of(socket);
        if (c.own) {
            return;
        }
        int captured = count(n);
        if (!sinks) {
            return;
        }
        PerThread t = threads.get();
        // copied: masking must never touch the application's own array
        System.arraycopy(b, off, room(t, captured), 0, captured);
        emit(t, c, socket, write ? WRITE : READ, write, n, captured);
    }

    private static byte[] room(PerThread t, int n) {
        if (t.data.length < n) {
            t.data = new byte[Math.max(n, 2 * t.data.length)];
        }
        return t.data;
    }

    private void emit(PerThread t, JsseConnections.Conn c, Object tls, String func, boolean egress, long n,
            int captured) {
        Thread th = Thread.currentThread();
        String name = th.getName();
        int tid;
        if (OsThreads.isVirtual(th)) {
            tid = OsThreads.currentTid(); // its carrier, now
        } else {
            if (t.name == null) {
                t.tid = OsThreads.currentTid();
            }
            tid = t.tid;
        }
        t.name = name;
        EventView v = t.view;
        v.set(System.nanoTime() + monotonicToEpoch, pid, tid, name, "jsse", c.libVersion, c.libPath, func,
                egress ? "egress" : "ingress", System.identityHashCode(tls), c.id, c.role, EventView.NO_FD, c.local,
                c.remote, n, 0, captured, captured < n);
        v.data(t.data, 0, captured);
        events.increment();
        publish.accept(v);
    }

    private final ClassValue<java.lang.reflect.Method> channelMethods = new ClassValue<>() {
        @Override
        protected java.lang.reflect.Method computeValue(Class<?> type) {
            for (Class<?> c = type; c != null; c = c.getSuperclass()) {
                try {
                    java.lang.reflect.Method m = c.getDeclaredMethod("channel");
                    m.setAccessible(true);
                    return m;
                } catch (NoSuchMethodException e) {
                    // its superclass
                } catch (RuntimeException e) {
                    return null;
                }
            }
            return null;
        }
    };

    @Override
    public void channel(Object engine, Object connection) {
        java.lang.reflect.Method m = channelMethods.get(connection.getClass());
        if (m == null || !(engine instanceof SSLEngine e)) {
            return;
        }
        try {
            if (m.invoke(connection) instanceof java.nio.channels.SocketChannel ch && ch.isConnected()) {
                connections.addresses(e, ch.getLocalAddress(), ch.getRemoteAddress());
            }
        } catch (ReflectiveOperationException | java.io.IOException | RuntimeException ignored) {
            // no addresses for this connection: never guessed
        }
    }

    /** See {@link JsseConnections#addresses}. */
    public void addresses(SSLEngine engine, SocketAddress local, SocketAddress remote) {
        connections.addresses(engine, local, remote);
    }

    /** The counters, for the stats line and the exit summary. */
    public Counters counters() {
        return new Counters(calls.sum(), bytes.sum(), events.sum(), callsTruncated.sum(), bytesTruncated.sum(),
                conns.sum());
    }

    /**
     * JSSE's share of the capture's counters.
     *
     * @param calls calls that moved application bytes
     * @param bytes the bytes they moved
     * @param events events handed to the sinks (0 without a sink)
     * @param callsTruncated calls whose bytes were cut at {@code capture.max-bytes}
     * @param bytesTruncated the bytes cut
     * @param conns connections numbered
     */
    public record Counters(long calls, long bytes, long events, long callsTruncated, long bytesTruncated,
            long conns) {
        public static final Counters ZERO = new Counters(0, 0, 0, 0, 0, 0);

        /** As a JSON object, for the stats line. */
        public String json() {
            return "{\"calls\":" + calls + ",\"bytes\":" + bytes + ",\"events\":" + events + ",\"calls_truncated\":"
                    + callsTruncated + ",\"bytes_truncated\":" + bytesTruncated + ",\"conns\":" + conns + "}";
        }
    }
}
