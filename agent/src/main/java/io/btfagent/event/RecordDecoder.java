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

    /**
     * Decodes one record into {@code out}, allocating nothing once the caches below are warm:
     * the data is copied into the view's own array (replaced only when too small), the thread
     * name and the addresses come from caches of the strings made for earlier records.
     * {@link #decode} gives the same facts as an immutable event.
     */
    public void decodeInto(ByteBuffer p, EventView out) {
        decodeInto(p, 0, p.limit(), out);
    }

    /** {@link #decodeInto(ByteBuffer, EventView)} of the record of {@code size} bytes at {@code at} in {@code p}. */
    public void decodeInto(ByteBuffer p, int at, int size, EventView out) {
        RecordLayout l = layout;
        if (size < l.headerSize() || at < 0 || at > p.limit() - size) {
            throw new IllegalArgumentException("record of " + size + " bytes at " + at + " is shorter than its "
                    + l.headerSize() + "-byte header or runs past the buffer's " + p.limit() + " bytes");
        }
        int captured = p.getInt(at + l.captured());
        if (captured < 0 || captured > size - l.headerSize()) {
            throw new IllegalArgumentException("record of " + size + " bytes claims " + captured + " data bytes");
        }
        CaptureFunction function = CaptureFunction.byIdOrNull(p.getInt(at + l.cookie()) & 0xff);
        int fd = p.getInt(at + l.fd());
        int tid = p.getInt(at + l.tid());
        byte[] data = out.array();
        if (data.length < captured) {
            data = new byte[Math.max(captured, MIN_DATA_ARRAY)];
        }
        p.get(at + l.headerSize(), data, 0, captured);
        out.set(p.getLong(at + l.tsNs()) + monotonicToEpochNanos, p.getInt(at + l.pid()), tid,
                threadName(p, at + l.comm(), tid), source.lib(), source.version(), source.path(),
                function == null ? "unknown" : function.symbol(),
                function == null ? "unknown" : function.egress() ? "egress" : "ingress",
                p.getLong(at + l.ssl()), p.getLong(at + l.conn()), ConnRole.of(p.getInt(at + l.role())).label(),
                fd >= -1 ? fd : EventView.NO_FD,
                cachedAddress(p, at + l.family(), at + l.laddr(), at + l.lport()),
                cachedAddress(p, at + l.family(), at + l.raddr(), at + l.rport()),
                p.getLong(at + l.callLen()), p.getLong(at + l.offset()), captured,
                RecordFlag.TRUNCATED.in(p.getInt(at + l.flags())));
        out.data(data, 0, captured);
    }

    /** A record's data never exceeds CAPTURE_CHUNK (capture_event.h): one array of it serves every record. */
    private static final int MIN_DATA_ARRAY = 8192;
    private static final int CACHE_SLOTS = 256;

    /** The name last reported for a thread id and the OS name it had. */
    private static final class ThreadSlot {
        int tid = -1;
        int generation;
        final byte[] comm = new byte[16];
        int commLen;
        String name;
    }

    private final ThreadSlot[] threads = new ThreadSlot[CACHE_SLOTS];

    private String threadName(ByteBuffer p, int at, int tid) {
        int n = 0;
        while (n < 16 && p.get(at + n) != 0) {
            n++;
        }
        int i = tid & (CACHE_SLOTS - 1);
        ThreadSlot s = threads[i];
        if (s == null) {
            s = threads[i] = new ThreadSlot();
        }
        int generation = ThreadNames.generation();
        if (s.tid == tid && s.generation == generation && s.commLen == n && same(p, at, s.comm, n)) {
            return s.name;
        }
        p.get(at, s.comm, 0, n);
        s.commLen = n;
        s.tid = tid;
        s.generation = generation;
        s.name = ThreadNames.name(tid, new String(s.comm, 0, n, StandardCharsets.UTF_8));
        return s.name;
    }

    /** An address text made for an earlier record: the family, the 16 address bytes and the port it was made of. */
    private static final class AddressSlot {
        int family = -1;
        int port;
        final byte[] addr = new byte[16];
        String text;
    }

    private final AddressSlot[] addresses = new AddressSlot[CACHE_SLOTS];

    private String cachedAddress(ByteBuffer p, int familyAt, int addrAt, int portAt) {
        int family = Short.toUnsignedInt(p.getShort(familyAt));
        if (family != AF_INET && family != AF_INET6) {
            return null;
        }
        int port = Short.toUnsignedInt(p.getShort(portAt));
        int h = family * 31 + port;
        for (int k = 0; k < 16; k++) {
            h = h * 31 + p.get(addrAt + k);
        }
        int i = (h ^ (h >>> 16)) & (CACHE_SLOTS - 1);
        AddressSlot s = addresses[i];
        if (s == null) {
            s = addresses[i] = new AddressSlot();
        }
        if (s.family == family && s.port == port && same(p, addrAt, s.addr, 16)) {
            return s.text;
        }
        p.get(addrAt, s.addr, 0, 16);
        s.family = family;
        s.port = port;
        s.text = address(p, familyAt, addrAt, portAt);
        return s.text;
    }

    private static boolean same(ByteBuffer p, int at, byte[] b, int n) {
        for (int k = 0; k < n; k++) {
            if (p.get(at + k) != b[k]) {
                return false;
            }
        }
        return true;
    }

    /** Decodes one record; the payload buffer is read, not kept. */
    public CaptureEvent decode(ByteBuffer p) {
        RecordLayout l = layout;
        if (p.limit() < l.headerSize()) {
            throw new IllegalArgumentException("record of " + p.limit() + " bytes is shorter than its "
                    + l.headerSize() + "-byte header");
        }
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
