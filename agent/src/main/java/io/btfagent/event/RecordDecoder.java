package io.btfagent.event;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * Turns ring-buffer records of one hooked library into {@link CaptureEvent}s. Kernel
 * timestamps are CLOCK_MONOTONIC, the clock {@link System#nanoTime()} reads on Linux, so one
 * offset taken at start converts them to wall-clock time.
 */
public final class RecordDecoder {
    private static final String[] FUNCS = {"SSL_read", "SSL_read_ex", "SSL_write", "SSL_write_ex"};

    /** What every record of this library shares. */
    public record Source(String lib, String version, String path) {
    }

    private final RecordLayout layout;
    private final Source source;
    private final long monotonicToEpochNanos;

    public RecordDecoder(RecordLayout layout, Source source, long monotonicToEpochNanos) {
        this.layout = layout;
        this.source = source;
        this.monotonicToEpochNanos = monotonicToEpochNanos;
    }

    /** The offset that turns a System.nanoTime()/CLOCK_MONOTONIC value into epoch nanoseconds. */
    public static long monotonicToEpochOffset() {
        java.time.Instant now = java.time.Instant.now();
        long mono = System.nanoTime();
        return now.getEpochSecond() * 1_000_000_000L + now.getNano() - mono;
    }

    /** Decodes one record; the payload buffer is read, not kept. */
    public CaptureEvent decode(ByteBuffer p) {
        RecordLayout l = layout;
        int captured = p.getInt(l.captured());
        if (captured < 0 || captured > p.limit() - l.headerSize()) {
            throw new IllegalArgumentException("record of " + p.limit() + " bytes claims " + captured + " data bytes");
        }
        int funcId = p.getInt(l.cookie()) & 0xff;
        String func = funcId < FUNCS.length ? FUNCS[funcId] : "unknown";
        int fd = p.getInt(l.fd());
        byte[] data = new byte[captured];
        p.get(l.headerSize(), data);
        return new CaptureEvent(
                p.getLong(l.tsNs()) + monotonicToEpochNanos,
                p.getInt(l.pid()),
                p.getInt(l.tid()),
                comm(p, l.comm()),
                source.lib(), source.version(), source.path(),
                func,
                funcId == 2 || funcId == 3 ? "egress" : funcId < 2 ? "ingress" : "unknown",
                p.getLong(l.ssl()),
                fd >= -1 ? Integer.valueOf(fd) : null,
                null, null,
                p.getLong(l.callLen()),
                p.getLong(l.offset()),
                captured,
                (p.getInt(l.flags()) & RecordLayout.FLAG_TRUNCATED) != 0,
                data);
    }

    private static String comm(ByteBuffer p, int at) {
        int n = 0;
        while (n < 16 && p.get(at + n) != 0) {
            n++;
        }
        byte[] b = new byte[n];
        p.get(at, b);
        return new String(b, StandardCharsets.UTF_8);
    }
}
