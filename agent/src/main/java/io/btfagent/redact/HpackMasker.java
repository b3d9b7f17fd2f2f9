package io.btfagent.redact;

/**
 * Decodes the HPACK header blocks of one direction of one HTTP/2 connection (RFC 7541), fed
 * the bytes of their fragments in order in as many pieces as they come, and masks in place the
 * value of every literal field that must not be seen: one whose name is sensitive (literal, from
 * the static table or from the dynamic table), every never-indexed literal (section 7.1.3), and,
 * while the table's state is unknown, every literal. A raw value's bytes become {@code '*'}; a
 * Huffman-coded value's bytes become the code of {@code '*'} (0xf9), so the block keeps its
 * length and still decodes.
 *
 * <p>The table follows the original stream (entry sizes from the original lengths); a value
 * that was masked is kept masked in it. Allocates nothing per block once the table is sized.
 */
final class HpackMasker {
    /** The largest dynamic table followed; a connection that sets a larger one is masked as unknown. */
    static final int MAX_TABLE = 65536;
    private static final int MAX_NAME = 256;
    /** Decoded value bytes kept for the header list and patterns; longer values are cut there. */
    private static final int MAX_VALUE = 4096;

    /** Whether a decoded value matches one of {@code redact.patterns}. */
    interface ValueCheck {
        boolean matches(byte[] value, int len);
    }

    private enum State { FIRST, INDEX, STRING_LENGTH, STRING }
    private enum Kind { INDEXED, INCREMENTAL, NOT_INDEXED, NEVER_INDEXED, SIZE_UPDATE }

    private final byte[][] sensitiveNames;
    private final ValueCheck valueCheck;
    private final HpackTable table = new HpackTable();
    private boolean tableKnown = true;
    /** SETTINGS_HEADER_TABLE_SIZE the peer's decoder announced, -1 until seen. */
    private int settingsLimit = -1;

    private State state = State.FIRST;
    private Kind kind;
    private boolean atBlockStart;
    private boolean error;
    /** An integer being read: its value, and the shift of its next continuation byte. */
    private long number;
    private int shift;
    /** Reading the name (else the value) string. */
    private boolean inName;
    private boolean huffman;
    private int remaining;

    private final byte[] name = new byte[MAX_NAME];
    private int nameLen;
    /** The name's original (decoded) length, for the entry's size. */
    private int nameFullLen;
    /** The name is not known (a dynamic entry while the table is unknown, bad Huffman code). */
    private boolean nameUnknown;
    private final byte[] raw = new byte[MAX_VALUE];
    private int rawLen;
    private final Hpack.HuffmanReader huffmanReader = new Hpack.HuffmanReader(MAX_VALUE);
    private boolean maskValue;
    /** The value's encoded length, and its first byte's index in the current piece (-1: an earlier piece). */
    private int valueEncodedLen;
    private int valueStart;
    private byte[] piece;
    private int masked;
    /** Where decoded fields are written as {@code name: value} lines; null when not wanted. */
    private StringBuilder out;

    HpackMasker(byte[][] sensitiveNames, ValueCheck valueCheck) {
        this.sensitiveNames = sensitiveNames;
        this.valueCheck = valueCheck;
    }

    /** A header block begins (a HEADERS or PUSH_PROMISE frame's fragment). */
    void blockStart() {
        state = State.FIRST;
        atBlockStart = true;
    }

    /** Whether the block ended between two fields, as it must. */
    boolean blockEnd() {
        return state == State.FIRST && !error;
    }

    /** The dynamic table's size as the RFC counts it. */
    int tableSize() {
        return table.size();
    }

    /** The table's maximum size as agreed out of band (tests: RFC 7541's examples use 256). */
    void tableMaxSize(int max) {
        table.maxSize(max);
    }

    /** Whether a decoding error was seen since the last {@link #blockStart}. */
    boolean failed() {
        return error;
    }

    /** Whether the dynamic table is known (from the connection's start, or since it was emptied). */
    boolean tableKnown() {
        return tableKnown;
    }

    /**
     * From here the table is unknown (bytes were lost, or the capture began mid-connection):
     * every literal value is masked until an update empties the table.
     */
    void tableLost() {
        tableKnown = false;
        table.clear();
        state = State.FIRST;
    }

    /**
     * SETTINGS_HEADER_TABLE_SIZE from the peer: the most a size update may set. The table
     * follows the encoder's updates, not the setting (shrinking before the encoder does would
     * resolve its next references against the wrong entries).
     */
    void settingsLimit(long limit) {
        settingsLimit = (int) Math.min(limit, Integer.MAX_VALUE);
    }

    /**
     * Masks {@code data[off, off+len)}, bytes of a block fragment, in place.
     *
     * @param lines receives the decoded fields, one {@code name: value} line each; may be null
     * @return how many bytes were masked
     */
    int feed(byte[] data, int off, int len, StringBuilder lines) {
        piece = data;
        out = lines;
        masked = 0;
        valueStart = state == State.STRING && !inName ? -1 : valueStart;
        int end = off + len;
        for (int i = off; i < end && !error; i++) {
            int b = data[i] & 0xff;
            switch (state) {
                case FIRST -> first(b);
                case INDEX -> {
                    if (continuation(b)) {
                        indexDone();
                    }
                }
                case STRING_LENGTH -> {
                    if (stringLengthPending) {
                        stringLengthPending = false;
                        huffman = (b & 0x80) != 0;
                        number = b & 0x7f;
                        shift = 0;
                        if (number < 0x7f) {
                            stringStart(i + 1);
                        }
                    } else if (continuation(b)) {
                        stringStart(i + 1);
                    }
                }
                case STRING -> i = stringBytes(data, i, end) - 1;
                default -> throw new IllegalStateException(state.toString());
            }
        }
        piece = null;
        out = null;
        return masked;
    }

    private void first(int b) {
        int prefix;
        if ((b & 0x80) != 0) {
            kind = Kind.INDEXED;
            prefix = 7;
        } else if ((b & 0x40) != 0) {
            kind = Kind.INCREMENTAL;
            prefix = 6;
        } else if ((b & 0x20) != 0) {
            kind = Kind.SIZE_UPDATE;
            prefix = 5;
        } else if ((b & 0x10) != 0) {
            kind = Kind.NEVER_INDEXED;
            prefix = 4;
        } else {
            kind = Kind.NOT_INDEXED;
            prefix = 4;
        }
        if (kind != Kind.SIZE_UPDATE) {
            atBlockStart = false;
        } else if (!atBlockStart) {
            error = true; // section 4.2: only at the beginning of a block
            return;
        }
        int mask = (1 << prefix) - 1;
        number = b & mask;
        shift = 0;
        if (number < mask) {
            indexDone();
        } else {
            state = State.INDEX;
        }
    }

    /** One continuation byte of an integer (section 5.1); true when the integer is complete. */
    private boolean continuation(int b) {
        number += (long) (b & 0x7f) << shift;
        shift += 7;
        if (shift > 28 || number > Integer.MAX_VALUE) {
            error = true;
            return false;
        }
        return (b & 0x80) == 0;
    }

    private void indexDone() {
        int index = (int) number;
        state = State.FIRST;
        switch (kind) {
            case SIZE_UPDATE -> sizeUpdate(index);
            case INDEXED -> indexed(index);
            default -> {
                if (index == 0) {
                    inName = true;
                    state = State.STRING_LENGTH;
                    stringLengthPending = true;
                } else {
                    nameFromIndex(index);
                    if (!error) {
                        valueLengthNext();
                    }
                }
            }
        }
    }

    /** The next byte starts a string's length (its H bit and 7-bit prefix). */
    private boolean stringLengthPending;

    private void sizeUpdate(int size) {
        if (size > MAX_TABLE || settingsLimit >= 0 && size > settingsLimit) {
            tableLost(); // larger than followed, or than the peer allows: not a state to trust
            return;
        }
        table.maxSize(size);
        if (size == 0) {
            tableKnown = true; // an empty table is known, whatever came before
        }
        if (out != null) {
            out.append("(table size ").append(size).append(")\n");
        }
    }

    private void indexed(int index) {
        if (index == 0) {
            error = true;
            return;
        }
        if (index <= Hpack.STATIC_ENTRIES) {
            if (out != null) {
                line(Hpack.staticName(index), Hpack.staticName(index).length, Hpack.staticValue(index),
                        Hpack.staticValue(index).length);
            }
            return;
        }
        int d = index - Hpack.STATIC_ENTRIES;
        if (!tableKnown) {
            if (out != null) {
                out.append("(dynamic entry ").append(index).append(", unknown)\n");
            }
            return;
        }
        if (d > table.count()) {
            error = true;
            return;
        }
        if (out != null) {
            nameLen = table.copyName(d, name, 0);
            rawLen = table.copyValue(d, raw, 0);
            line(name, nameLen, raw, rawLen);
        }
    }

    private void nameFromIndex(int index) {
        nameUnknown = false;
        if (index <= Hpack.STATIC_ENTRIES) {
            byte[] n = Hpack.staticName(index);
            System.arraycopy(n, 0, name, 0, n.length);
            nameLen = n.length;
            nameFullLen = n.length;
            return;
        }
        int d = index - Hpack.STATIC_ENTRIES;
        if (!tableKnown) {
            nameUnknown = true;
            nameLen = 0;
            nameFullLen = 0;
            return;
        }
        if (d > table.count()) {
            error = true;
            return;
        }
        nameFullLen = table.nameLength(d);
        nameLen = table.copyName(d, name, 0);
    }

    private void valueLengthNext() {
        inName = false;
        state = State.STRING_LENGTH;
        stringLengthPending = true;
    }

    /**
     * In state STRING_LENGTH the first byte carries the H bit and a 7-bit prefix; any later
     * byte is a continuation. {@link #first} does not see these bytes: they come through here.
     */
    private void stringStart(int next) {
        remaining = (int) number;
        state = State.STRING;
        if (inName) {
            nameLen = 0;
            nameFullLen = 0;
            nameUnknown = false;
            if (huffman) {
                huffmanReader.start();
            }
        } else {
            maskValue = !tableKnown || kind == Kind.NEVER_INDEXED || nameUnknown || isSensitive();
            rawLen = 0;
            valueEncodedLen = remaining;
            valueStart = next;
            if (huffman) {
                huffmanReader.start();
            }
        }
        if (remaining == 0) {
            stringDone();
        }
    }

    /** Consumes string bytes from {@code i}; returns the index after the last one consumed. */
    private int stringBytes(byte[] data, int i, int end) {
        int n = Math.min(remaining, end - i);
        int stop = i + n;
        if (inName) {
            for (int j = i; j < stop; j++) {
                if (huffman) {
                    huffmanReader.accept(data[j] & 0xff);
                } else {
                    if (nameLen < MAX_NAME) {
                        name[nameLen++] = data[j];
                    }
                    nameFullLen++;
                }
            }
        } else {
            boolean decode = huffman && (kind == Kind.INCREMENTAL || out != null || valueCheck != null);
            for (int j = i; j < stop; j++) {
                int b = data[j] & 0xff;
                if (decode) {
                    huffmanReader.accept(b);
                } else if (!huffman && rawLen < MAX_VALUE) {
                    raw[rawLen++] = (byte) b;
                }
                if (maskValue) {
                    data[j] = huffman ? Hpack.HUFFMAN_STAR : (byte) '*';
                    masked++;
                }
            }
        }
        remaining -= n;
        if (remaining == 0) {
            stringDone();
        }
        return stop;
    }

    private void stringDone() {
        state = State.FIRST;
        if (inName) {
            if (huffman) {
                if (!huffmanReader.finishedCleanly()) {
                    nameUnknown = true;
                }
                nameFullLen = huffmanReader.length();
                nameLen = huffmanReader.kept();
                System.arraycopy(huffmanReader.bytes(), 0, name, 0, Math.min(nameLen, MAX_NAME));
                nameLen = Math.min(nameLen, MAX_NAME);
            }
            valueLengthNext();
            return;
        }
        fieldDone();
    }

    private void fieldDone() {
        byte[] value;
        int valueLen;
        int valueFullLen;
        if (huffman) {
            boolean decoded = kind == Kind.INCREMENTAL || out != null || valueCheck != null;
            value = huffmanReader.bytes();
            valueLen = decoded ? huffmanReader.kept() : 0;
            valueFullLen = decoded ? huffmanReader.length() : valueEncodedLen;
        } else {
            value = raw;
            valueLen = rawLen;
            valueFullLen = valueEncodedLen;
        }
        if (!maskValue && valueCheck != null && valueCheck.matches(value, valueLen) && valueStart >= 0) {
            // a pattern matched the decoded value: the whole value is masked (when it lies in this piece)
            for (int j = valueStart; j < valueStart + valueEncodedLen; j++) {
                piece[j] = huffman ? Hpack.HUFFMAN_STAR : (byte) '*';
            }
            masked += valueEncodedLen;
            maskValue = true;
        }
        // what a decoder of the masked bytes reads: '*' for each masked byte
        int shownLen = valueLen;
        if (maskValue) {
            shownLen = Math.min(valueEncodedLen, MAX_VALUE);
            value = raw;
            java.util.Arrays.fill(raw, 0, shownLen, (byte) '*');
        }
        if (out != null) {
            if (nameUnknown) {
                out.append("(unknown name)");
                out.append(": ");
                appendText(value, shownLen);
                out.append('\n');
            } else {
                line(name, nameLen, value, shownLen);
            }
        }
        if (kind == Kind.INCREMENTAL && tableKnown) {
            table.add(name, nameLen, value, out != null || maskValue ? shownLen : 0,
                    nameFullLen + valueFullLen + Hpack.ENTRY_OVERHEAD, !nameUnknown && isSensitive());
        }
    }

    private boolean isSensitive() {
        for (byte[] candidate : sensitiveNames) {
            if (candidate.length == nameLen && equalsLowerCase(candidate, name, nameLen)) {
                return true;
            }
        }
        return false;
    }

    private static boolean equalsLowerCase(byte[] lower, byte[] n, int len) {
        for (int i = 0; i < len; i++) {
            int c = n[i];
            if (c >= 'A' && c <= 'Z') {
                c += 32;
            }
            if (c != lower[i]) {
                return false;
            }
        }
        return true;
    }

    private void line(byte[] n, int nLen, byte[] v, int vLen) {
        appendText(n, nLen);
        out.append(": ");
        appendText(v, vLen);
        out.append('\n');
    }

    private void appendText(byte[] a, int len) {
        for (int i = 0; i < len; i++) {
            int c = a[i] & 0xff;
            if (c >= 0x20 && c < 0x7f) {
                out.append((char) c);
            } else {
                out.append("\\x").append(Character.forDigit(c >> 4, 16)).append(Character.forDigit(c & 15, 16));
            }
        }
    }
}
