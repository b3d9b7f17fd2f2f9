package io.btfagent.jsse;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.btfagent.event.CaptureEvent;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import org.junit.jupiter.api.Test;

/** What JsseCapture makes of the positions the woven engine reports, with real JDK engines and buffers. */
class JsseCaptureTest {
    private final List<CaptureEvent> events = new ArrayList<>();
    private final AtomicLong ids = new AtomicLong(40);

    private JsseCapture capture(int maxBytes) {
        return new JsseCapture(ids::incrementAndGet, v -> events.add(v.toEvent()), true, maxBytes, null);
    }

    private static SSLEngine engine(boolean client) throws Exception {
        SSLEngine e = SSLContext.getDefault().createSSLEngine();
        e.setUseClientMode(client);
        return e;
    }

    @Test
    void aWrapOverSeveralBuffersIsTheBytesConsumedInOrder() throws Exception {
        JsseCapture c = capture(65536);
        ByteBuffer a = ByteBuffer.wrap("xxHEL".getBytes(StandardCharsets.US_ASCII));
        a.position(2);
        ByteBuffer b = ByteBuffer.allocateDirect(6).put("LO-rest".getBytes(StandardCharsets.US_ASCII), 0, 6).flip();
        ByteBuffer[] srcs = {ByteBuffer.allocate(1), a, b};
        long mark = c.mark(srcs, 1, 2);
        a.position(a.limit()); // the engine consumed all of a and 3 bytes of b
        b.position(3);
        SSLEngine engine = engine(true);
        c.engine(engine, true, srcs, 1, 2, mark);
        assertEquals(1, events.size());
        CaptureEvent e = events.get(0);
        assertArrayEquals("HELLO-".getBytes(StandardCharsets.US_ASCII), e.data());
        assertEquals(6, e.len());
        assertEquals("SSLEngine.wrap", e.func());
        assertEquals("egress", e.dir());
        assertEquals("jsse", e.lib());
        assertEquals("client", e.role());
        assertEquals(41, e.conn());
        assertEquals(Thread.currentThread().getName(), e.thread());
        assertEquals(null, e.fd());
    }

    @Test
    void anUnwrapThatProducedNothingIsNoEventAndOneConnectionKeepsItsId() throws Exception {
        JsseCapture c = capture(65536);
        SSLEngine engine = engine(false);
        ByteBuffer dst = ByteBuffer.allocate(64);
        ByteBuffer[] dsts = {dst};
        long mark = c.mark(dsts, 0, 1);
        c.engine(engine, false, dsts, 0, 1, mark); // a handshake step
        assertTrue(events.isEmpty());
        for (String s : new String[] {"one", "two"}) {
            mark = c.mark(dsts, 0, 1);
            dst.put(s.getBytes(StandardCharsets.US_ASCII));
            c.engine(engine, false, dsts, 0, 1, mark);
        }
        assertEquals(2, events.size());
        assertArrayEquals("two".getBytes(StandardCharsets.US_ASCII), events.get(1).data());
        assertEquals(events.get(0).conn(), events.get(1).conn());
        assertEquals("server", events.get(1).role());
        assertEquals(2, c.counters().calls());
        assertEquals(6, c.counters().bytes());
        assertEquals(1, c.counters().conns());
    }

    @Test
    void bytesBeyondMaxBytesAreCountedAsTruncatedAndTheApplicationArrayIsNotShared() throws Exception {
        JsseCapture c = capture(4);
        byte[] app = "0123456789".getBytes(StandardCharsets.US_ASCII);
        Object socket = javax.net.ssl.SSLSocketFactory.getDefault().createSocket();
        c.stream(socket, true, app, 2, 6);
        CaptureEvent e = events.get(0);
        assertArrayEquals("2345".getBytes(StandardCharsets.US_ASCII), e.data());
        assertEquals(6, e.len());
        assertEquals(4, e.captured());
        assertTrue(e.truncated());
        assertEquals("SSLSocket.write", e.func());
        assertEquals(1, c.counters().callsTruncated());
        assertEquals(2, c.counters().bytesTruncated());
        assertNotSame(app, e.data());
    }

    @Test
    void withoutASinkOnlyTheCountersMove() throws Exception {
        JsseCapture c = new JsseCapture(ids::incrementAndGet, v -> events.add(v.toEvent()), false, 65536, null);
        c.stream(javax.net.ssl.SSLSocketFactory.getDefault().createSocket(), false, new byte[10], 0, 10);
        assertTrue(events.isEmpty());
        assertEquals(1, c.counters().calls());
        assertEquals(10, c.counters().bytes());
        assertEquals(0, c.counters().events());
        assertEquals(1, c.counters().conns());
    }

    @Test
    void aConnectionTheAgentsOwnCodeDrivesIsLeftOut() throws Exception {
        // the test's loader is given as the agent's: on one of the agent's threads (named by it,
        // as its sinks' are), a connection driven from that loader's code other than the capture's
        // own (JUnit's assertDoesNotThrow here) is the agent's
        JsseCapture c = new JsseCapture(ids::incrementAndGet, v -> events.add(v.toEvent()), true, 65536,
                JsseCaptureTest.class.getClassLoader());
        Object socket = javax.net.ssl.SSLSocketFactory.getDefault().createSocket();
        Throwable[] failed = new Throwable[1];
        Thread sink = new Thread(() -> {
            try {
                org.junit.jupiter.api.Assertions.assertDoesNotThrow(
                        () -> c.stream(socket, true, new byte[10], 0, 10));
            } catch (Throwable t) {
                failed[0] = t;
            }
        }, "btf-agent-sink-test");
        sink.start();
        sink.join();
        assertEquals(null, failed[0]);
        assertTrue(events.isEmpty());
        assertEquals(0, c.counters().calls());
        assertEquals(0, c.counters().conns());
    }

    @Test
    void theAgentsCodeOnAnApplicationThreadIsNotWalkedFor() throws Exception {
        // the agent's code runs on its own threads only: on any other the stack is not walked
        JsseCapture c = new JsseCapture(ids::incrementAndGet, v -> events.add(v.toEvent()), true, 65536,
                JsseCaptureTest.class.getClassLoader());
        c.stream(javax.net.ssl.SSLSocketFactory.getDefault().createSocket(), true, new byte[10], 0, 10);
        assertEquals(1, events.size());
        assertEquals(1, c.counters().conns());
    }

    @Test
    void aCallAllocatesNothingOnceItsThreadWarmedUp() throws Exception {
        long[] published = new long[1];
        JsseCapture c = new JsseCapture(ids::incrementAndGet, v -> published[0] += v.dataLength(), true, 65536, null);
        SSLEngine engine = engine(true);
        Object socket = javax.net.ssl.SSLSocketFactory.getDefault().createSocket();
        ByteBuffer src = ByteBuffer.allocateDirect(64);
        ByteBuffer[] srcs = {src};
        byte[] app = new byte[64];
        Runnable call = () -> {
            src.clear();
            long mark = c.mark(srcs, 0, 1);
            src.position(64);
            c.engine(engine, true, srcs, 0, 1, mark);
            c.stream(socket, false, app, 0, 64);
        };
        for (int i = 0; i < 20_000; i++) {
            call.run();
        }
        com.sun.management.ThreadMXBean mx =
                (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        long before = mx.getCurrentThreadAllocatedBytes();
        for (int i = 0; i < 10_000; i++) {
            call.run();
        }
        long allocated = mx.getCurrentThreadAllocatedBytes() - before;
        assertEquals(30_000 * 128L, published[0]);
        assertTrue(allocated < 4096, allocated + " bytes allocated by 20,000 calls");
    }
}
