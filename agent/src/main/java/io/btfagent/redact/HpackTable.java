package io.btfagent.redact;

/**
 * An HPACK dynamic table (RFC 7541 section 2.3.2) as a decoder sees it: entries sized as the
 * RFC counts them (the original name and value lengths plus 32), evicted oldest first. It keeps
 * each entry's name, whether the name is one whose values are masked, and the value as it left
 * the agent (masked values as {@code '*'}), or no value bytes when values are not kept.
 *
 * <p>Storage is one byte ring and a ring of entry slots, allocated when the table's maximum
 * size grows: adding and evicting entries allocates nothing.
 */
final class HpackTable {
    /** The size a table starts with (SETTINGS_HEADER_TABLE_SIZE's default). */
    static final int DEFAULT_SIZE = 4096;

    private byte[] bytes;
    private int[] start;
    private int[] nameLength;
    private int[] valueLength;
    private int[] entrySize;
    private boolean[] sensitive;
    /** Slot of the oldest entry, and how many there are. */
    private int oldest;
    private int count;
    /** Where the next entry's bytes go in {@link #bytes}, as a running count. */
    private long head;
    private int size;
    private int maxSize = DEFAULT_SIZE;

    HpackTable() {
        allocate(DEFAULT_SIZE);
    }

    private void allocate(int capacity) {
        bytes = new byte[Math.max(capacity, 64)];
        int slots = capacity / Hpack.ENTRY_OVERHEAD + 1;
        start = new int[slots];
        nameLength = new int[slots];
        valueLength = new int[slots];
        entrySize = new int[slots];
        sensitive = new boolean[slots];
    }

    int count() {
        return count;
    }

    int size() {
        return size;
    }

    int maxSize() {
        return maxSize;
    }

    /** Empties the table (its maximum size stays). */
    void clear() {
        count = 0;
        size = 0;
        head = 0;
        oldest = 0;
    }

    /** A dynamic table size update: evicts down to {@code max}; grows the storage if needed. */
    void maxSize(int max) {
        if (max > bytes.length) {
            // entries are kept across the growth, newest last
            int n = count;
            byte[][] names = new byte[n][];
            byte[][] values = new byte[n][];
            int[] sizes = new int[n];
            boolean[] flags = new boolean[n];
            for (int i = 0; i < n; i++) {
                int index = n - i; // oldest first
                names[i] = new byte[nameLength(index)];
                copyName(index, names[i], 0);
                values[i] = new byte[valueLength(index)];
                copyValue(index, values[i], 0);
                sizes[i] = entrySize[slot(index)];
                flags[i] = sensitiveName(index);
            }
            allocate(max);
            clear();
            this.maxSize = max;
            for (int i = 0; i < n; i++) {
                add(names[i], names[i].length, values[i], values[i].length, sizes[i], flags[i]);
            }
        }
        this.maxSize = max;
        evictTo(max);
    }

    private void evictTo(int max) {
        while (size > max && count > 0) {
            size -= entrySize[oldest];
            oldest = (oldest + 1) % start.length;
            count--;
        }
        if (count == 0) {
            head = 0;
        }
    }

    /**
     * Adds an entry (section 4.4: evicts first; an entry larger than the table empties it and
     * is not added).
     *
     * @param rfcSize the entry's size as the RFC counts it, from the original lengths
     */
    void add(byte[] name, int nameLen, byte[] value, int valueLen, int rfcSize, boolean sensitiveName) {
        evictTo(maxSize - rfcSize);
        if (rfcSize > maxSize) {
            clear();
            return;
        }
        int slot = (oldest + count) % start.length;
        int at = (int) (head % bytes.length);
        start[slot] = at;
        nameLength[slot] = nameLen;
        valueLength[slot] = valueLen;
        entrySize[slot] = rfcSize;
        sensitive[slot] = sensitiveName;
        put(name, nameLen, at);
        put(value, valueLen, (at + nameLen) % bytes.length);
        head += nameLen + valueLen;
        size += rfcSize;
        count++;
    }

    private void put(byte[] src, int len, int at) {
        int first = Math.min(len, bytes.length - at);
        System.arraycopy(src, 0, bytes, at, first);
        System.arraycopy(src, first, bytes, 0, len - first);
    }

    private void get(int from, byte[] dst, int dstOff, int len) {
        int first = Math.min(len, bytes.length - from);
        System.arraycopy(bytes, from, dst, dstOff, first);
        System.arraycopy(bytes, 0, dst, dstOff + first, len - first);
    }

    /** Slot of dynamic entry {@code index} (1 = the newest). */
    private int slot(int index) {
        return (oldest + count - index) % start.length;
    }

    int nameLength(int index) {
        return nameLength[slot(index)];
    }

    int valueLength(int index) {
        return valueLength[slot(index)];
    }

    boolean sensitiveName(int index) {
        return sensitive[slot(index)];
    }

    /** Copies entry {@code index}'s name (1 = the newest) to {@code dst}; returns its length. */
    int copyName(int index, byte[] dst, int dstOff) {
        int s = slot(index);
        int n = Math.min(nameLength[s], dst.length - dstOff);
        get(start[s], dst, dstOff, n);
        return n;
    }

    int copyValue(int index, byte[] dst, int dstOff) {
        int s = slot(index);
        int n = Math.min(valueLength[s], dst.length - dstOff);
        get((start[s] + nameLength[s]) % bytes.length, dst, dstOff, n);
        return n;
    }
}
