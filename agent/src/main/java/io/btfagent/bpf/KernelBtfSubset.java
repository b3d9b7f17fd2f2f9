package io.btfagent.bpf;

import io.btfagent.btf.BtfFormatException;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;

/**
 * The part of the kernel's BTF that the capture program's CO-RE relocations can reach: every
 * struct, union and enum named like one of the program's own types (a {@code ___flavour}
 * suffix dropped), with the structs and unions they embed, their members' scalar and array
 * types, and every pointer made a pointer to void. libbpf matches a field through pointers by
 * kind only, so offsets, sizes and member kinds (what a relocation checks) stay exactly as in the
 * full BTF, while the file libbpf parses at every object load shrinks from megabytes to tens of
 * kilobytes (25 KB of 5.4 MB for the capture program on this machine's kernel).
 */
final class KernelBtfSubset {
    private static final int HEADER = 24;
    private static final int STRUCT = 4;
    private static final int UNION = 5;
    private static final int ENUM = 6;
    private static final int ENUM64 = 19;

    private final ByteBuffer in;
    private final int[] typeAt;
    private final int strOff;
    private final int strLen;
    /** Types being copied now (typedef, array, ... chains): one met again is a cycle. */
    private final Set<Integer> copying = new HashSet<>();
    private int depth;
    private final ByteArrayOutputStream types = new ByteArrayOutputStream();
    private final ByteArrayOutputStream strings = new ByteArrayOutputStream();
    private final Map<String, Integer> stringIds = new HashMap<>();
    private final Map<Integer, Integer> newIds = new HashMap<>();
    private int nextId = 1;
    private int voidPointer;

    /** How deep types may nest by value (a kernel's are a few dozen at most): deeper is not a real BTF. */
    private static final int MAX_DEPTH = 512;

    private KernelBtfSubset(ByteBuffer in, int[] typeAt, int strOff, int strLen) {
        this.in = in;
        this.typeAt = typeAt;
        this.strOff = strOff;
        this.strLen = strLen;
        strings.write(0); // offset 0: the empty name
        stringIds.put("", 0);
    }

    /**
     * The names of the composite and enum types of {@code programBtf} (the program's own BTF),
     * without libbpf's {@code ___flavour} suffix: what its relocations may look up in the kernel.
     */
    static Set<String> namesOf(byte[] programBtf) throws BtfFormatException {
        ByteBuffer b = header(programBtf);
        int typeOff = HEADER + b.getInt(8);
        int typeLen = b.getInt(12);
        int strOff = HEADER + b.getInt(16);
        int strLen = b.getInt(20);
        Set<String> names = new HashSet<>();
        for (int at = typeOff; at < typeOff + typeLen; at += size(b, at, typeOff + typeLen)) {
            int kind = kind(b.getInt(at + 4));
            if (kind == STRUCT || kind == UNION || kind == ENUM || kind == ENUM64) {
                String name = string(b, strOff, strLen, b.getInt(at));
                int flavour = name.indexOf("___");
                if (flavour >= 0) {
                    name = name.substring(0, flavour);
                }
                if (!name.isEmpty()) {
                    names.add(name);
                }
            }
        }
        return names;
    }

    /** A BTF of {@code kernelBtf}'s types named in {@code names}, as described above. */
    static byte[] of(byte[] kernelBtf, Set<String> names) throws BtfFormatException {
        return of(ByteBuffer.wrap(kernelBtf), names);
    }

    /**
     * As {@link #of(byte[], Set)}, of the BTF from {@code kernelBtf}'s position to its limit
     * (e.g. memory outside the Java heap, which the caller frees after).
     */
    static byte[] of(ByteBuffer kernelBtf, Set<String> names) throws BtfFormatException {
        ByteBuffer b = header(kernelBtf.slice());
        int typeOff = HEADER + b.getInt(8);
        int typeLen = b.getInt(12);
        int strOff = HEADER + b.getInt(16);
        int strLen = b.getInt(20);
        int count = 0;
        for (int at = typeOff; at < typeOff + typeLen; at += size(b, at, typeOff + typeLen)) {
            count++;
        }
        int[] typeAt = new int[count + 1];
        int id = 1;
        for (int at = typeOff; at < typeOff + typeLen; at += size(b, at, typeOff + typeLen)) {
            typeAt[id++] = at;
        }
        KernelBtfSubset s = new KernelBtfSubset(b, typeAt, strOff, strLen);
        for (int t = 1; t <= count; t++) {
            int kind = kind(b.getInt(typeAt[t] + 4));
            if ((kind == STRUCT || kind == UNION || kind == ENUM || kind == ENUM64)
                    && names.contains(string(b, strOff, strLen, b.getInt(typeAt[t])))) {
                s.copy(t);
            }
        }
        return s.bytes();
    }

    /** The id {@code old}'s copy has in the subset, copying it (and what it needs) first. */
    private int copy(int old) throws BtfFormatException {
        if (old == 0) {
            return 0;
        }
        Integer done = newIds.get(old);
        if (done != null) {
            return done;
        }
        if (old < 0 || old >= typeAt.length) {
            throw new BtfFormatException("kernel BTF: a type refers to type " + Integer.toUnsignedString(old)
                    + ", past its " + (typeAt.length - 1) + " types");
        }
        if (!copying.add(old) || depth >= MAX_DEPTH) {
            throw new BtfFormatException("kernel BTF: type " + old + " refers to itself or nests deeper than "
                    + MAX_DEPTH);
        }
        depth++;
        try {
            return copyNew(old);
        } finally {
            depth--;
            copying.remove(old);
        }
    }

    private int copyNew(int old) throws BtfFormatException {
        int at = typeAt[old];
        int info = in.getInt(at + 4);
        int kind = kind(info);
        int vlen = info & 0xffff;
        if (kind == 2) { // every pointer points to void: its target's kind is never checked
            if (voidPointer == 0) {
                voidPointer = emit(new int[] {0, info, 0});
            }
            newIds.put(old, voidPointer);
            return voidPointer;
        }
        int name = name(in.getInt(at));
        switch (kind) {
            case 1, 16, 7 -> { // int, float, fwd
                int[] record = kind == 1 ? new int[] {name, info, in.getInt(at + 8), in.getInt(at + 12)}
                        : new int[] {name, info, in.getInt(at + 8)};
                int id = emit(record);
                newIds.put(old, id);
                return id;
            }
            case 8, 9, 10, 11, 18 -> { // typedef, volatile, const, restrict, type_tag
                int target = copy(in.getInt(at + 8));
                int id = emit(new int[] {name, info, target});
                newIds.put(old, id);
                return id;
            }
            case 3 -> { // array
                int elem = copy(in.getInt(at + 12));
                int index = copy(in.getInt(at + 16));
                int id = emit(new int[] {name, info, 0, elem, index, in.getInt(at + 20)});
                newIds.put(old, id);
                return id;
            }
            case ENUM, ENUM64 -> {
                int per = kind == ENUM ? 2 : 3;
                int[] record = new int[3 + per * vlen];
                record[0] = name;
                record[1] = info;
                record[2] = in.getInt(at + 8);
                for (int i = 0; i < vlen; i++) {
                    int m = at + 12 + 4 * per * i;
                    record[3 + per * i] = name(in.getInt(m));
                    for (int j = 1; j < per; j++) {
                        record[3 + per * i + j] = in.getInt(m + 4 * j);
                    }
                }
                int id = emit(record);
                newIds.put(old, id);
                return id;
            }
            case STRUCT, UNION -> {
                // reserved first: a member's type may refer back to it (through a typedef or array)
                int id = reserve(old);
                int[] record = new int[3 + 3 * vlen];
                record[0] = name;
                record[1] = info;
                record[2] = in.getInt(at + 8);
                for (int i = 0; i < vlen; i++) {
                    int m = at + 12 + 12 * i;
                    record[3 + 3 * i] = name(in.getInt(m));
                    record[3 + 3 * i + 1] = copy(in.getInt(m + 4));
                    record[3 + 3 * i + 2] = in.getInt(m + 8);
                }
                fill(id, record);
                return id;
            }
            default -> {
                // a function (prototype), variable, section or tag is reached only through a
                // pointer, which points to void here
                throw new BtfFormatException("kernel BTF: kind " + kind + " of type " + old + " reached by value");
            }
        }
    }

    private final java.util.List<int[]> records = new java.util.ArrayList<>();

    private int emit(int[] record) {
        records.add(record);
        return nextId++;
    }

    private int reserve(int old) {
        int id = emit(null);
        newIds.put(old, id);
        return id;
    }

    private void fill(int id, int[] record) {
        records.set(id - 1, record);
    }

    private int name(int oldOffset) throws BtfFormatException {
        String s = string(in, strOff, strLen, oldOffset);
        Integer known = stringIds.get(s);
        if (known != null) {
            return known;
        }
        int offset = strings.size();
        byte[] bytes = s.getBytes(StandardCharsets.UTF_8);
        strings.write(bytes, 0, bytes.length);
        strings.write(0);
        stringIds.put(s, offset);
        return offset;
    }

    private byte[] bytes() {
        ByteBuffer t = ByteBuffer.allocate(records.stream().mapToInt(r -> 4 * r.length).sum())
                .order(ByteOrder.LITTLE_ENDIAN);
        for (int[] r : records) {
            for (int v : r) {
                t.putInt(v);
            }
        }
        byte[] typeBytes = t.array();
        byte[] stringBytes = strings.toByteArray();
        ByteBuffer out = ByteBuffer.allocate(HEADER + typeBytes.length + stringBytes.length)
                .order(ByteOrder.LITTLE_ENDIAN);
        out.putShort((short) 0xeB9F).put((byte) 1).put((byte) 0).putInt(HEADER).putInt(0).putInt(typeBytes.length)
                .putInt(typeBytes.length).putInt(stringBytes.length).put(typeBytes).put(stringBytes);
        return out.array();
    }

    private static ByteBuffer header(byte[] btf) throws BtfFormatException {
        return header(ByteBuffer.wrap(btf));
    }

    private static ByteBuffer header(ByteBuffer btf) throws BtfFormatException {
        ByteBuffer b = btf.order(ByteOrder.LITTLE_ENDIAN);
        int length = b.limit();
        if (length < HEADER || Short.toUnsignedInt(b.getShort(0)) != 0xeB9F || b.get(2) != 1
                || b.getInt(4) != HEADER) {
            throw new BtfFormatException("not a little-endian BTF v1 with a 24-byte header");
        }
        long typeEnd = HEADER + Integer.toUnsignedLong(b.getInt(8)) + Integer.toUnsignedLong(b.getInt(12));
        long strEnd = HEADER + Integer.toUnsignedLong(b.getInt(16)) + Integer.toUnsignedLong(b.getInt(20));
        if (typeEnd > length || strEnd > length) {
            throw new BtfFormatException("sections run past the end of the BTF (" + length + " bytes)");
        }
        return b;
    }

    private static int kind(int info) {
        return (info >>> 24) & 0x1f;
    }

    /** Bytes of the type at {@code at}, which must end by {@code end} (its type section's end). */
    private static int size(ByteBuffer b, int at, int end) throws BtfFormatException {
        if (at + 12 > end) {
            throw new BtfFormatException("a type at " + at + " runs past the type section");
        }
        int size = size(b, at);
        if (at + size > end) {
            throw new BtfFormatException("a type at " + at + " runs past the type section");
        }
        return size;
    }

    private static int size(ByteBuffer b, int at) throws BtfFormatException {
        int info = b.getInt(at + 4);
        int vlen = info & 0xffff;
        return 12 + switch (kind(info)) {
            case 1, 14, 17 -> 4;
            case 2, 7, 8, 9, 10, 11, 12, 16, 18 -> 0;
            case 3 -> 12;
            case 4, 5, 15, 19 -> 12 * vlen;
            case 6, 13 -> 8 * vlen;
            default -> throw new BtfFormatException("BTF kind " + kind(info) + " at " + at + " is not known here");
        };
    }

    /** The NUL-terminated string at {@code offset} of the string section ({@code strOff}, {@code strLen} bytes). */
    private static String string(ByteBuffer b, int strOff, int strLen, int offset) throws BtfFormatException {
        if (offset < 0 || offset >= strLen) {
            throw new BtfFormatException("a name at " + Integer.toUnsignedString(offset) + " is outside the "
                    + strLen + "-byte string section");
        }
        int start = strOff + offset;
        int end = start;
        while (end < strOff + strLen && b.get(end) != 0) {
            end++;
        }
        if (end == strOff + strLen) {
            throw new BtfFormatException("the string section does not end its last name");
        }
        if (b.hasArray()) {
            return new String(b.array(), b.arrayOffset() + start, end - start, StandardCharsets.UTF_8);
        }
        byte[] name = new byte[end - start];
        b.get(start, name);
        return new String(name, StandardCharsets.UTF_8);
    }
}
