package io.btfagent.redact;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.Set;

/**
 * Masks the values of chosen HTTP/1 header lines in one direction of one connection, fed its
 * bytes in order in as many pieces as they come (a header split between two records or two
 * calls is still found). Each value byte becomes {@code '*'}, so lengths and offsets stay
 * true; the name, the colon, the spaces before the value and the line end stay as they are,
 * as do continuation lines' leading whitespace (obsolete line folding; their content is masked).
 *
 * <p>A line counts wherever it is in the stream (a body line {@code Cookie: x} is masked too):
 * the masker does not follow HTTP message framing, so it never misses a header after a body it
 * could not measure.
 */
final class HeaderMasker {
    private static final int MAX_NAME = 64;
    private static final VarHandle LONGS = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);
    private static final long NEWLINES = 0x0A0A0A0A0A0A0A0AL;

    private enum State { LINE_START, NAME, BEFORE_VALUE, VALUE, SKIP_LINE }

    /** The header names, lower case, as ISO-8859-1 bytes: compared without making a string per header line. */
    private final byte[][] nameBytes;
    private State state = State.LINE_START;
    /** The header name read so far, lower case. */
    private final byte[] name = new byte[MAX_NAME];
    private int nameLen;
    /** The previous line was a masked header: a line starting with SP/HT continues it. */
    private boolean folding;

    /** @param names header names, lower case */
    HeaderMasker(Set<String> names) {
        this.nameBytes = names.stream().map(n -> n.getBytes(StandardCharsets.ISO_8859_1)).toArray(byte[][]::new);
    }

    private boolean isMasked(byte[] n, int len) {
        for (byte[] candidate : nameBytes) {
            if (candidate.length == len && java.util.Arrays.equals(candidate, 0, len, n, 0, len)) {
                return true;
            }
        }
        return false;
    }

    /**
     * Continues after bytes that were never seen (a truncated call, lost records): inside a
     * masked value it keeps masking to the end of that line; otherwise it takes the next byte
     * as the start of a line, so a header there is masked rather than missed.
     */
    void gap() {
        if (state != State.VALUE) {
            state = State.LINE_START;
            nameLen = 0;
        }
    }

    /**
     * Masks {@code data[off, off+len)} in place.
     *
     * @return how many bytes were masked
     */
    int mask(byte[] data, int off, int len) {
        int masked = 0;
        int end = off + len;
        for (int i = off; i < end; i++) {
            int b = data[i] & 0xff;
            switch (state) {
                case SKIP_LINE:
                    // the hot path: most bytes are bodies
                    i = indexOfNewline(data, i, end);
                    if (i < end) {
                        state = State.LINE_START;
                    }
                    break;
                case LINE_START:
                    if ((b == ' ' || b == '\t') && folding) {
                        state = State.VALUE;
                    } else if (b == '\r' || b == '\n') {
                        folding = false;
                    } else if (isTokenChar(b)) {
                        folding = false;
                        nameLen = 0;
                        name[nameLen++] = lower(b);
                        state = State.NAME;
                    } else {
                        folding = false;
                        state = State.SKIP_LINE;
                    }
                    break;
                case NAME:
                    if (b == ':') {
                        if (isMasked(name, nameLen)) {
                            state = State.BEFORE_VALUE;
                            folding = true;
                        } else {
                            state = State.SKIP_LINE;
                        }
                    } else if (isTokenChar(b) && nameLen < MAX_NAME) {
                        name[nameLen++] = lower(b);
                    } else {
                        state = b == '\n' ? State.LINE_START : State.SKIP_LINE;
                    }
                    break;
                case BEFORE_VALUE:
                    if (b == ' ' || b == '\t') {
                        break;
                    }
                    if (b == '\r' || b == '\n') {
                        state = b == '\n' ? State.LINE_START : State.SKIP_LINE;
                        break;
                    }
                    state = State.VALUE;
                    data[i] = '*';
                    masked++;
                    break;
                case VALUE:
                    if (b == '\r' || b == '\n') {
                        state = b == '\n' ? State.LINE_START : State.SKIP_LINE;
                    } else {
                        data[i] = '*';
                        masked++;
                    }
                    break;
                default:
                    throw new IllegalStateException(state.toString());
            }
        }
        return masked;
    }

    private static byte lower(int b) {
        return (byte) (b >= 'A' && b <= 'Z' ? b + 32 : b);
    }

    /**
     * The first {@code '\n'} in {@code a[from, to)}, or {@code to}: eight bytes at a time (a
     * zero-byte test on the XOR with newlines), as bodies are most of the bytes scanned.
     */
    static int indexOfNewline(byte[] a, int from, int to) {
        int i = from;
        for (; i + 8 <= to; i += 8) {
            long v = (long) LONGS.get(a, i) ^ NEWLINES;
            long zero = (v - 0x0101010101010101L) & ~v & 0x8080808080808080L;
            if (zero != 0) {
                return i + (Long.numberOfTrailingZeros(zero) >>> 3);
            }
        }
        for (; i < to; i++) {
            if (a[i] == '\n') {
                return i;
            }
        }
        return to;
    }

    /** RFC 9110 tchar. */
    private static boolean isTokenChar(int b) {
        if (b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9') {
            return true;
        }
        return "!#$%&'*+-.^_`|~".indexOf(b) >= 0;
    }
}
