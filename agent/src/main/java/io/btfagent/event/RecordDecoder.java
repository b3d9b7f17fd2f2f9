package io.btfagent.event;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;

/**
 * Turns ring-buffer records of one hooked library into {@link CaptureEvent}s. Kernel
 * timestamps are CLOCK_MONOTONIC, the clock {@link System#nanoTime()} reads on Linux, so one
 * offset taken at start converts them to wall-clock time.
 */
public final class RecordDecoder {
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
        CaptureFunction function = CaptureFunction.byId(p.getInt(l.cookie()) & 0xff).orElse(null);
        int fd = p.getInt(l.fd());
        int tid = p.getInt(l.tid());
        byte[] data = new byte[captured];
        p.get(l.headerSize(), data);
        return new CaptureEvent(
                p.getLong(l.tsNs()) + monotonicToEpochNanos,
                p.getInt(l.pid()),
                tid,
                ThreadNames.name(tid, comm(p, l.comm())),
                source.lib(), source.version(), source.path(),
                function == null ? "unknown" : function.symbol(),
                function == null ? "unknown" : function.egress() ? "egress" : "ingress",
                p.getLong(l.ssl()),
                p.getLong(l.conn()),
                ConnRole.of(p.getInt(l.role())).label(),
                fd >= -1 ? Integer.valueOf(fd) : null,
                address(p, l.family(), l.laddr(), l.lport()),
                address(p, l.family(), l.raddr(), l.rport()),
                p.getLong(l.callLen()),
                p.getLong(l.offset()),
                captured,
                RecordFlag.TRUNCATED.in(p.getInt(l.flags())),
                data);
    }

    private static final int AF_INET = 2;
    private static final int AF_INET6 = 10;

    /**
     * {@code 127.0.0.1:8443} or {@code [2001:db8::1]:8443} (an IPv4-mapped IPv6 address is
     * shown as IPv4), or null when the kernel side found no TCP/IP socket.
     */
    static String address(ByteBuffer p, int familyAt, int addrAt, int portAt) {
        int family = Short.toUnsignedInt(p.getShort(familyAt));
        int port = Short.toUnsignedInt(p.getShort(portAt));
        if (family == AF_INET) {
            return (p.get(addrAt) & 0xff) + "." + (p.get(addrAt + 1) & 0xff) + "." + (p.get(addrAt + 2) & 0xff) + "."
                    + (p.get(addrAt + 3) & 0xff) + ":" + port;
        }
        if (family != AF_INET6) {
            return null;
        }
        int[] groups = new int[8];
        for (int i = 0; i < 8; i++) {
            groups[i] = ((p.get(addrAt + 2 * i) & 0xff) << 8) | (p.get(addrAt + 2 * i + 1) & 0xff);
        }
        if (groups[0] == 0 && groups[1] == 0 && groups[2] == 0 && groups[3] == 0 && groups[4] == 0
                && groups[5] == 0xffff) {
            return (groups[6] >> 8) + "." + (groups[6] & 0xff) + "." + (groups[7] >> 8) + "." + (groups[7] & 0xff)
                    + ":" + port;
        }
        return "[" + ipv6Text(groups) + "]:" + port;
    }

    /** RFC 5952 text: lower-case hex, the longest run of two or more zero groups as "::". */
    static String ipv6Text(int[] groups) {
        int bestStart = -1;
        int bestLen = 1;
        for (int i = 0; i < 8; ) {
            int j = i;
            while (j < 8 && groups[j] == 0) {
                j++;
            }
            if (j - i > bestLen) {
                bestStart = i;
                bestLen = j - i;
            }
            i = j == i ? i + 1 : j;
        }
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < 8; i++) {
            if (i == bestStart) {
                b.append("::");
                i += bestLen - 1;
                continue;
            }
            if (b.length() > 0 && b.charAt(b.length() - 1) != ':') {
                b.append(':');
            }
            b.append(Integer.toHexString(groups[i]));
        }
        return b.toString();
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
