package io.btfagent.sink;

import io.btfagent.event.EventView;
import java.nio.charset.StandardCharsets;
import java.time.LocalDate;

/**
 * Writes an event's JSON object (contract 2.3; byte for byte what {@link EventText#json} makes)
 * straight into a caller's byte array: numbers, the timestamp, escaped UTF-8 strings and the
 * base64 of the data, with no intermediate string or array, so a sink's thread allocates
 * nothing per event. One instance per thread (it caches the current day's date).
 *
 * <p>Usage: make room for {@link #maxLength} bytes, then {@link #write} (or
 * {@link #writeLine}) returns where the JSON ends.
 */
public final class EventJson {
    private static final byte[] BASE64 =
            "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/".getBytes(StandardCharsets.US_ASCII);
    private static final byte[] HEX = "0123456789abcdef".getBytes(StandardCharsets.US_ASCII);
    /** Seconds since the epoch of 10000-01-01T00:00:00Z: later times take the general formatter. */
    private static final long YEAR_10000 = 253_402_300_800L;

    private static final byte[] TS = ascii("{\"ts\":\"");
    private static final byte[] PID = ascii("\",\"pid\":");
    private static final byte[] TID = ascii(",\"tid\":");
    private static final byte[] THREAD = ascii(",\"thread\":");
    private static final byte[] LIB = ascii(",\"lib\":");
    private static final byte[] LIB_VERSION = ascii(",\"libVersion\":");
    private static final byte[] LIB_PATH = ascii(",\"libPath\":");
    private static final byte[] FUNC = ascii(",\"func\":\"");
    private static final byte[] DIR = ascii("\",\"dir\":\"");
    private static final byte[] SSL = ascii("\",\"ssl\":\"0x");
    private static final byte[] CONN = ascii(",\"conn\":");
    private static final byte[] ROLE = ascii(",\"role\":\"");
    private static final byte[] FD = ascii(",\"fd\":");
    private static final byte[] LOCAL = ascii(",\"local\":");
    private static final byte[] REMOTE = ascii(",\"remote\":");
    private static final byte[] LEN = ascii(",\"len\":");
    private static final byte[] OFFSET = ascii(",\"offset\":");
    private static final byte[] CAPTURED = ascii(",\"captured\":");
    private static final byte[] TRUNCATED = ascii(",\"truncated\":");
    private static final byte[] TRUE = ascii("true");
    private static final byte[] FALSE = ascii("false");
    private static final byte[] REDACTED = ascii(",\"redacted\":true");
    private static final byte[] DATA = ascii(",\"data\":\"");
    private static final byte[] HEADERS = ascii(",\"headers\":[");

    /**
     * Block sizes (multiples of 3) the JDK's encoder is given: it encodes only whole arrays, and
     * is many times faster than a Java loop where the JVM has an intrinsic for it (AVX-512),
     * so the data goes through it in copies of these sizes, largest first.
     */
    private static final int[] BLOCKS = {3072, 768, 192, 48};
    private static final java.util.Base64.Encoder JDK = java.util.Base64.getEncoder();
    private final byte[][] blockIn = new byte[BLOCKS.length][];
    private final byte[][] blockOut = new byte[BLOCKS.length][];

    {
        for (int k = 0; k < BLOCKS.length; k++) {
            blockIn[k] = new byte[BLOCKS[k]];
            blockOut[k] = new byte[BLOCKS[k] / 3 * 4];
        }
    }

    private long day = Long.MIN_VALUE;
    /** {@code yyyy-MM-ddT} of {@link #day}. */
    private final byte[] date = new byte[11];

    private static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.US_ASCII);
    }

    /** Most bytes {@link #writeLine} can write for {@code e}. */
    public static int maxLength(EventView e) {
        int chars = length(e.thread()) + length(e.lib()) + length(e.libVersion()) + length(e.libPath())
                + length(e.func()) + length(e.dir()) + length(e.role()) + length(e.local()) + length(e.remote());
        return 512 + 6 * chars + 9 * length(e.headers()) + 4 * ((e.dataLength() + 2) / 3);
    }

    private static int length(String s) {
        return s == null ? 0 : s.length();
    }

    /** {@link #write} and a newline. */
    public int writeLine(EventView e, byte[] b, int at) {
        int p = write(e, b, at);
        b[p++] = '\n';
        return p;
    }

    /**
     * Writes the JSON object of {@code e} (no newline) into {@code b} from {@code at}, which
     * must have {@link #maxLength} bytes of room; returns the index after it.
     */
    public int write(EventView e, byte[] b, int at) {
        int p = put(b, at, TS);
        p = timestamp(b, p, e.epochNanos());
        p = put(b, p, PID);
        p = decimal(b, p, e.pid());
        p = put(b, p, TID);
        p = decimal(b, p, e.tid());
        p = put(b, p, THREAD);
        p = string(b, p, e.thread());
        p = put(b, p, LIB);
        p = string(b, p, e.lib());
        p = put(b, p, LIB_VERSION);
        p = string(b, p, e.libVersion());
        p = put(b, p, LIB_PATH);
        p = string(b, p, e.libPath());
        p = put(b, p, FUNC);
        p = raw(b, p, e.func());
        p = put(b, p, DIR);
        p = raw(b, p, e.dir());
        p = put(b, p, SSL);
        p = hex(b, p, e.ssl());
        b[p++] = '"';
        if (e.conn() != 0) {
            p = put(b, p, CONN);
            p = decimal(b, p, e.conn());
        }
        if (e.role() != null) {
            p = put(b, p, ROLE);
            p = raw(b, p, e.role());
            b[p++] = '"';
        }
        if (e.hasFd()) {
            p = put(b, p, FD);
            p = decimal(b, p, e.fd());
        }
        if (e.local() != null) {
            p = put(b, p, LOCAL);
            p = string(b, p, e.local());
        }
        if (e.remote() != null) {
            p = put(b, p, REMOTE);
            p = string(b, p, e.remote());
        }
        p = put(b, p, LEN);
        p = decimal(b, p, e.len());
        p = put(b, p, OFFSET);
        p = decimal(b, p, e.offset());
        p = put(b, p, CAPTURED);
        p = decimal(b, p, e.captured());
        p = put(b, p, TRUNCATED);
        p = put(b, p, e.truncated() ? TRUE : FALSE);
        if (e.redacted()) {
            p = put(b, p, REDACTED);
        }
        if (e.headers() != null) {
            p = headers(b, p, e.headers());
        }
        p = put(b, p, DATA);
        p = base64Chunked(b, p, e.array(), e.dataOffset(), e.dataLength());
        b[p++] = '"';
        b[p++] = '}';
        return p;
    }

    /**
     * {@code "headers":[...]}: the decoded HTTP/2 header list, one string per line as
     * {@link io.btfagent.event.EventView#headers()} has them.
     */
    static int headers(byte[] b, int p, String lines) {
        p = put(b, p, HEADERS);
        int from = 0;
        boolean first = true;
        while (from < lines.length()) {
            int nl = lines.indexOf('\n', from);
            int to = nl < 0 ? lines.length() : nl;
            if (!first) {
                b[p++] = ',';
            }
            first = false;
            p = string(b, p, lines.substring(from, to));
            from = to + 1;
        }
        b[p++] = ']';
        return p;
    }

    private static int put(byte[] b, int p, byte[] s) {
        System.arraycopy(s, 0, b, p, s.length);
        return p + s.length;
    }

    /** {@code 2026-11-25T03:40:11.123456789Z}, as {@link EventText#timestamp}. */
    private int timestamp(byte[] b, int p, long epochNanos) {
        long seconds = Math.floorDiv(epochNanos, 1_000_000_000L);
        int nanos = (int) Math.floorMod(epochNanos, 1_000_000_000L);
        if (seconds < 0 || seconds >= YEAR_10000) {
            return raw(b, p, EventText.timestamp(epochNanos));
        }
        long d = seconds / 86_400;
        int s = (int) (seconds - d * 86_400);
        if (d != day) {
            LocalDate ld = LocalDate.ofEpochDay(d);
            digits(date, 0, ld.getYear(), 4);
            date[4] = '-';
            digits(date, 5, ld.getMonthValue(), 2);
            date[7] = '-';
            digits(date, 8, ld.getDayOfMonth(), 2);
            date[10] = 'T';
            day = d;
        }
        p = put(b, p, date);
        digits(b, p, s / 3600, 2);
        b[p + 2] = ':';
        digits(b, p + 3, s / 60 % 60, 2);
        b[p + 5] = ':';
        digits(b, p + 6, s % 60, 2);
        b[p + 8] = '.';
        digits(b, p + 9, nanos, 9);
        b[p + 18] = 'Z';
        return p + 19;
    }

    /** {@code v} as exactly {@code n} decimal digits (zero-padded). */
    private static void digits(byte[] b, int p, int v, int n) {
        for (int i = n - 1; i >= 0; i--) {
            b[p + i] = (byte) ('0' + v % 10);
            v /= 10;
        }
    }

    /** {@code v} in decimal, as {@link Long#toString(long)}. */
    static int decimal(byte[] b, int p, long v) {
        if (v == Long.MIN_VALUE) {
            return raw(b, p, "-9223372036854775808");
        }
        if (v < 0) {
            b[p++] = '-';
            v = -v;
        }
        int n = 1;
        for (long t = v; t >= 10; t /= 10) {
            n++;
        }
        for (int i = p + n - 1; i >= p; i--) {
            b[i] = (byte) ('0' + v % 10);
            v /= 10;
        }
        return p + n;
    }

    /** {@code v} as {@link Long#toHexString(long)}: unsigned, lower case, no leading zeros. */
    static int hex(byte[] b, int p, long v) {
        int n = Math.max(1, (64 - Long.numberOfLeadingZeros(v) + 3) / 4);
        for (int i = p + n - 1; i >= p; i--) {
            b[i] = HEX[(int) (v & 0xf)];
            v >>>= 4;
        }
        return p + n;
    }

    /** A JSON string: quoted, escaped as {@link EventText} escapes, UTF-8. */
    static int string(byte[] b, int p, String s) {
        b[p++] = '"';
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"': b[p++] = '\\'; b[p++] = '"'; break;
                case '\\': b[p++] = '\\'; b[p++] = '\\'; break;
                case '\n': b[p++] = '\\'; b[p++] = 'n'; break;
                case '\r': b[p++] = '\\'; b[p++] = 'r'; break;
                case '\t': b[p++] = '\\'; b[p++] = 't'; break;
                default:
                    if (c < 0x20) {
                        b[p++] = '\\';
                        b[p++] = 'u';
                        b[p++] = '0';
                        b[p++] = '0';
                        b[p++] = HEX[c >> 4];
                        b[p++] = HEX[c & 0xf];
                    } else {
                        p = utf8(b, p, s, i);
                        if (Character.isHighSurrogate(c) && i + 1 < s.length()
                                && Character.isLowSurrogate(s.charAt(i + 1))) {
                            i++;
                        }
                    }
            }
        }
        b[p++] = '"';
        return p;
    }

    /** {@code s} as UTF-8, unescaped (names the agent makes: func, dir, role). */
    private static int raw(byte[] b, int p, String s) {
        for (int i = 0; i < s.length(); i++) {
            p = utf8(b, p, s, i);
            if (Character.isHighSurrogate(s.charAt(i)) && i + 1 < s.length()
                    && Character.isLowSurrogate(s.charAt(i + 1))) {
                i++;
            }
        }
        return p;
    }

    /**
     * The char at {@code i} (with the next, if they are a surrogate pair) as UTF-8; an unpaired
     * surrogate becomes {@code ?}, as {@link String#getBytes} makes it.
     */
    private static int utf8(byte[] b, int p, String s, int i) {
        char c = s.charAt(i);
        if (c < 0x80) {
            b[p++] = (byte) c;
        } else if (c < 0x800) {
            b[p++] = (byte) (0xc0 | c >> 6);
            b[p++] = (byte) (0x80 | c & 0x3f);
        } else if (Character.isSurrogate(c)) {
            if (Character.isHighSurrogate(c) && i + 1 < s.length() && Character.isLowSurrogate(s.charAt(i + 1))) {
                int cp = Character.toCodePoint(c, s.charAt(i + 1));
                b[p++] = (byte) (0xf0 | cp >> 18);
                b[p++] = (byte) (0x80 | cp >> 12 & 0x3f);
                b[p++] = (byte) (0x80 | cp >> 6 & 0x3f);
                b[p++] = (byte) (0x80 | cp & 0x3f);
            } else {
                b[p++] = '?';
            }
        } else {
            b[p++] = (byte) (0xe0 | c >> 12);
            b[p++] = (byte) (0x80 | c >> 6 & 0x3f);
            b[p++] = (byte) (0x80 | c & 0x3f);
        }
        return p;
    }

    /** {@link #base64}, the bulk through the JDK's encoder in blocks, the rest (under 48 bytes) here. */
    private int base64Chunked(byte[] b, int p, byte[] src, int off, int len) {
        int i = off;
        int end = off + len;
        for (int k = 0; k < BLOCKS.length; k++) {
            int c = BLOCKS[k];
            byte[] in = blockIn[k];
            byte[] out = blockOut[k];
            while (end - i >= c) {
                System.arraycopy(src, i, in, 0, c);
                JDK.encode(in, out);
                System.arraycopy(out, 0, b, p, out.length);
                i += c;
                p += out.length;
            }
        }
        return base64(b, p, src, i, end - i);
    }

    /** RFC 4648 base64 with padding, as {@link java.util.Base64#getEncoder()}. */
    static int base64(byte[] b, int p, byte[] src, int off, int len) {
        int end = off + len - len % 3;
        int i = off;
        for (; i < end; i += 3) {
            int v = (src[i] & 0xff) << 16 | (src[i + 1] & 0xff) << 8 | (src[i + 2] & 0xff);
            b[p] = BASE64[v >>> 18];
            b[p + 1] = BASE64[v >>> 12 & 0x3f];
            b[p + 2] = BASE64[v >>> 6 & 0x3f];
            b[p + 3] = BASE64[v & 0x3f];
            p += 4;
        }
        int rest = off + len - i;
        if (rest == 1) {
            int v = (src[i] & 0xff) << 16;
            b[p++] = BASE64[v >>> 18];
            b[p++] = BASE64[v >>> 12 & 0x3f];
            b[p++] = '=';
            b[p++] = '=';
        } else if (rest == 2) {
            int v = (src[i] & 0xff) << 16 | (src[i + 1] & 0xff) << 8;
            b[p++] = BASE64[v >>> 18];
            b[p++] = BASE64[v >>> 12 & 0x3f];
            b[p++] = BASE64[v >>> 6 & 0x3f];
            b[p++] = '=';
        }
        return p;
    }
}
