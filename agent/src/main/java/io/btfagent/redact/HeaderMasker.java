package io.btfagent.redact;

import java.util.Locale;
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

    private enum State { LINE_START, NAME, BEFORE_VALUE, VALUE, SKIP_LINE }

    private final Set<String> names;
    private State state = State.LINE_START;
    private final StringBuilder name = new StringBuilder();
    /** The previous line was a masked header: a line starting with SP/HT continues it. */
    private boolean folding;

    /** @param names header names, lower case */
    HeaderMasker(Set<String> names) {
        this.names = names;
    }

    /**
     * Continues after bytes that were never seen (a truncated call, lost records): inside a
     * masked value it keeps masking to the end of that line; otherwise it takes the next byte
     * as the start of a line, so a header there is masked rather than missed.
     */
    void gap() {
        if (state != State.VALUE) {
            state = State.LINE_START;
            name.setLength(0);
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
                    while (i < end && data[i] != '\n') {
                        i++;
                    }
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
                        name.setLength(0);
                        name.append((char) b);
                        state = State.NAME;
                    } else {
                        folding = false;
                        state = State.SKIP_LINE;
                    }
                    break;
                case NAME:
                    if (b == ':') {
                        if (names.contains(name.toString().toLowerCase(Locale.ROOT))) {
                            state = State.BEFORE_VALUE;
                            folding = true;
                        } else {
                            state = State.SKIP_LINE;
                        }
                    } else if (isTokenChar(b) && name.length() < MAX_NAME) {
                        name.append((char) b);
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

    /** RFC 9110 tchar. */
    private static boolean isTokenChar(int b) {
        if (b >= 'a' && b <= 'z' || b >= 'A' && b <= 'Z' || b >= '0' && b <= '9') {
            return true;
        }
        return "!#$%&'*+-.^_`|~".indexOf(b) >= 0;
    }
}
