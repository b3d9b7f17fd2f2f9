package io.btfagent.bench;

import io.btfagent.event.EventView;
import io.btfagent.redact.Redactor;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * The redactor alone ({@link Redactor#mask(EventView)}, what the dispatcher runs on the ring
 * thread for every event before the sinks), on records without credentials, as the agent's
 * default settings make it: an HTTP/1 connection (a 64-byte request, the bench's record size),
 * and an HTTP/2 connection (gRPC-like: a HEADERS frame whose fields are all indexed, a DATA frame
 * with a 5-byte message). Reports ns and bytes allocated per event, on one thread.
 */
public final class RedactionBench {
    /** ns per event and bytes allocated per event. */
    public record Cost(double nsPerEvent, double bytesPerEvent) {
    }

    private RedactionBench() {
    }

    static byte[] http1Record() {
        byte[] r = "GET /bytes/64 HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: bench\r\n\r\n".getBytes(
                StandardCharsets.ISO_8859_1);
        byte[] out = new byte[64];
        System.arraycopy(r, 0, out, 0, Math.min(64, r.length));
        return out;
    }

    /** The preface and SETTINGS, then a call's frames: HEADERS (indexed fields only) and DATA. */
    static byte[][] http2Records() {
        byte[] preface = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1);
        byte[] settings = {0, 0, 0, 4, 0, 0, 0, 0, 0};
        byte[] start = new byte[preface.length + settings.length];
        System.arraycopy(preface, 0, start, 0, preface.length);
        System.arraycopy(settings, 0, start, preface.length, settings.length);
        byte[] call = {
            0, 0, 4, 1, 4, 0, 0, 0, 3, (byte) 0x83, (byte) 0x87, (byte) 0x84, (byte) 0x86, // HEADERS, 4 indexed
            0, 0, 10, 0, 1, 0, 0, 0, 3, 0, 0, 0, 0, 5, 'h', 'e', 'l', 'l', 'o', // DATA, END_STREAM
        };
        return new byte[][] {start, call};
    }

    /** Masks {@code events} records of {@code record} (after {@code first}, if any) on one connection. */
    public static Cost measure(byte[] first, byte[] record, int events) {
        Redactor r = Redactor.fromSettings(null, null, List.of(), s -> { });
        EventView v = new EventView();
        byte[] data = record.clone();
        if (first != null) {
            byte[] f = first.clone();
            v.set(0, 1, 1, "t", "openssl", "3", "/l", "SSL_write", "egress", 1, 1, null, -1, null, null, f.length, 0,
                    f.length, false);
            v.data(f, 0, f.length);
            r.mask(v);
        }
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long tid = Thread.currentThread().getId();
        long allocated = 0;
        long ns = 0;
        for (int round = 0; round < 2; round++) { // the first round warms up
            long a0 = threads.getThreadAllocatedBytes(tid);
            long t0 = System.nanoTime();
            for (int i = 0; i < events; i++) {
                System.arraycopy(record, 0, data, 0, record.length);
                v.set(0, 1, 1, "t", "openssl", "3", "/l", "SSL_write", "egress", 1, 1, null, -1, null, null,
                        data.length, 0, data.length, false);
                v.data(data, 0, data.length);
                r.mask(v);
            }
            ns = System.nanoTime() - t0;
            allocated = threads.getThreadAllocatedBytes(tid) - a0;
        }
        return new Cost(ns / (double) events, allocated / (double) events);
    }

    public static Cost http1(int events) {
        return measure(null, http1Record(), events);
    }

    public static Cost http2(int events) {
        byte[][] h2 = http2Records();
        return measure(h2[0], h2[1], events);
    }
}
