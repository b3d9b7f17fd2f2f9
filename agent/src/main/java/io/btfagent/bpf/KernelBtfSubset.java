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
    private final ByteArrayOutputStream types = new ByteArrayOutputStream();
    private final ByteArrayOutputStream strings = new ByteArrayOutputStream();
    private final Map<String, Integer> stringIds = new HashMap<>();
    private final Map<Integer, Integer> newIds = new HashMap<>();
    private int nextId = 1;
    private int voidPointer;

    private KernelBtfSubset(ByteBuffer in, int[] typeAt, int strOff) {
        this.in = in;
        this.typeAt = typeAt;
        this.strOff = strOff;
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
        Set<String> names = new HashSet<>();
        for (int at = typeOff; at < typeOff + typeLen; at += size(b, at)) {
            int kind = kind(b.getInt(at + 4));
            if (kind == STRUCT || kind == UNION || kind == ENUM || kind == ENUM64) {
                String name = string(b, strOff, b.getInt(at));
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
        ByteBuffer b = header(kernelBtf);
        int typeOff = HEADER + b.getInt(8);
        int typeLen = b.getInt(12);
        int strOff = HEADER + b.getInt(16);
        int count = 0;
        for (int at = typeOff; at < typeOff + typeLen; at += size(b, at)) {
            count++;
        }
        int[] typeAt = new int[count + 1];
        int id = 1;
        for (int at = typeOff; at < typeOff + typeLen; at += size(b, at)) {
            typeAt[id++] = at;
        }
        KernelBtfSubset s = new KernelBtfSubset(b, typeAt, strOff);
        for (int t = 1; t <= count; t++) {
            int kind = kind(b.getInt(typeAt[t] + 4));
            if ((kind == STRUCT || kind == UNION || kind == ENUM || kind == ENUM64)
                    && names.contains(string(b, strOff, b.getInt(typeAt[t])))) {
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

    private int name(int oldOffset) {
        String s = string(in, strOff, oldOffset);
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
        ByteBuffer b = ByteBuffer.wrap(btf).order(ByteOrder.LITTLE_ENDIAN);
        if (btf.length < HEADER || Short.toUnsignedInt(b.getShort(0)) != 0xeB9F || b.get(2) != 1
                || b.getInt(4) != HEADER) {
            throw new BtfFormatException("not a little-endian BTF v1 with a 24-byte header");
        }
        return b;
    }

    private static int kind(int info) {
        return (info >>> 24) & 0x1f;
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

    private static String string(ByteBuffer b, int strOff, int offset) {
        int start = strOff + offset;
        int end = start;
        while (b.get(end) != 0) {
            end++;
        }
        return new String(b.array(), start, end - start, StandardCharsets.UTF_8);
    }
}
