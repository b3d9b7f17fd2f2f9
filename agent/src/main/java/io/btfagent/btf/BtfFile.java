package io.btfagent.btf;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A parsed BTF blob (raw {@code .btf} file or an ELF {@code .BTF} section): the named structs
 * with their member offsets, and the variables of data sections. This is the unprivileged,
 * file-side view used to validate catalog files and to read the layout of our own records;
 * CO-RE itself is done by libbpf.
 */
public final class BtfFile {
    private static final int MAGIC = 0xeb9f;
    private static final int KIND_INT = 1, KIND_PTR = 2, KIND_ARRAY = 3, KIND_STRUCT = 4, KIND_UNION = 5,
            KIND_ENUM = 6, KIND_FWD = 7, KIND_TYPEDEF = 8, KIND_VOLATILE = 9, KIND_CONST = 10,
            KIND_RESTRICT = 11, KIND_FUNC = 12, KIND_FUNC_PROTO = 13, KIND_VAR = 14, KIND_DATASEC = 15,
            KIND_FLOAT = 16, KIND_DECL_TAG = 17, KIND_TYPE_TAG = 18, KIND_ENUM64 = 19;

    /** A struct or union: its byte size and each member's bit offset. */
    public record Struct(String name, long size, Map<String, Long> memberBitOffsets) {
        /** Byte offset of a member that is not a bit-field. */
        public long offsetOf(String member) {
            Long bits = memberBitOffsets.get(member);
            if (bits == null) {
                throw new IllegalArgumentException("struct " + name + " has no member " + member);
            }
            return bits / 8;
        }
    }

    private final int typeCount;
    private final Map<String, List<Struct>> structs;
    private final Map<String, Map<String, Long>> datasecVars;

    private BtfFile(int typeCount, Map<String, List<Struct>> structs, Map<String, Map<String, Long>> datasecVars) {
        this.typeCount = typeCount;
        this.structs = structs;
        this.datasecVars = datasecVars;
    }

    /** Bytes of the fixed part of a BTF header, what {@link #declaredLength} reads. */
    public static final int HEADER_BYTES = 24;

    /**
     * The length of the BTF whose first {@link #HEADER_BYTES} bytes are {@code head}: its header
     * and the further of its two sections. Checked before a file is read whole, so a file that
     * is not BTF costs no buffer of its size.
     */
    public static long declaredLength(byte[] head) throws java.io.IOException {
        ByteBuffer b = ByteBuffer.wrap(head).order(ByteOrder.LITTLE_ENDIAN);
        if (head.length < HEADER_BYTES || Short.toUnsignedInt(b.getShort(0)) != MAGIC) {
            throw new java.io.IOException("is not BTF (its first bytes are not the BTF magic 0xeb9f)");
        }
        long hdrLen = Integer.toUnsignedLong(b.getInt(4));
        if (hdrLen < HEADER_BYTES) {
            throw new java.io.IOException("is not BTF (header length " + hdrLen + ")");
        }
        long typeEnd = hdrLen + Integer.toUnsignedLong(b.getInt(8)) + Integer.toUnsignedLong(b.getInt(12));
        long strEnd = hdrLen + Integer.toUnsignedLong(b.getInt(16)) + Integer.toUnsignedLong(b.getInt(20));
        return Math.max(typeEnd, strEnd);
    }

    /**
     * Parses raw BTF. Every malformed input (wrong magic, truncated header or sections, unknown
     * kinds, string offsets out of range) is a {@link BtfFormatException} naming the cause.
     */
    public static BtfFile parse(byte[] data) throws BtfFormatException {
        try {
            return parseUnchecked(data);
        } catch (IndexOutOfBoundsException | IllegalArgumentException e) {
            throw new BtfFormatException("truncated or inconsistent BTF (" + e.getMessage() + ")");
        }
    }

    private static BtfFile parseUnchecked(byte[] data) throws BtfFormatException {
        if (data.length < 24) {
            throw new BtfFormatException("too short for a BTF header (" + data.length + " bytes)");
        }
        ByteBuffer b = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
        if (Short.toUnsignedInt(b.getShort(0)) != MAGIC) {
            throw new BtfFormatException(String.format("bad magic 0x%04x (expected 0xeb9f)", b.getShort(0)));
        }
        long hdrLen = Integer.toUnsignedLong(b.getInt(4));
        long typeOffL = hdrLen + Integer.toUnsignedLong(b.getInt(8));
        long typeLenL = Integer.toUnsignedLong(b.getInt(12));
        long strOffL = hdrLen + Integer.toUnsignedLong(b.getInt(16));
        long strLenL = Integer.toUnsignedLong(b.getInt(20));
        if (hdrLen < 24 || typeOffL + typeLenL > data.length || strOffL + strLenL > data.length) {
            throw new BtfFormatException("section bounds exceed the file (" + data.length + " bytes)");
        }
        if (typeOffL % 4 != 0 || typeOffL + typeLenL > strOffL) {
            throw new BtfFormatException("type section is misaligned or overlaps the string section");
        }
        int typeOff = (int) typeOffL;
        int typeLen = (int) typeLenL;
        int strOff = (int) strOffL;
        int strLen = (int) strLenL;
        Strings strings = new Strings(data, strOff, strLen);

        // Pass 1: record each type's kind, name and where its extra data is.
        List<int[]> types = new ArrayList<>(); // {kind, nameOff, vlen, sizeOrType, extraPos, kindFlag}
        types.add(new int[] {0, 0, 0, 0, 0, 0}); // id 0 is void
        int pos = typeOff;
        int end = typeOff + typeLen;
        while (pos < end) {
            int nameOff = b.getInt(pos);
            int info = b.getInt(pos + 4);
            int sizeOrType = b.getInt(pos + 8);
            int vlen = info & 0xffff;
            int kind = (info >>> 24) & 0x1f;
            int kindFlag = info >>> 31;
            int extra = pos + 12;
            types.add(new int[] {kind, nameOff, vlen, sizeOrType, extra, kindFlag});
            pos = extra + extraSize(kind, vlen);
        }
        if (pos != end) {
            throw new BtfFormatException("type section ends mid-type");
        }

        Map<String, List<Struct>> structs = new HashMap<>();
        Map<String, Map<String, Long>> datasecs = new HashMap<>();
        for (int[] t : types) {
            int kind = t[0];
            if (kind == KIND_STRUCT || kind == KIND_UNION) {
                Map<String, Long> members = new LinkedHashMap<>();
                for (int i = 0; i < t[2]; i++) {
                    int m = t[4] + i * 12;
                    long off = Integer.toUnsignedLong(b.getInt(m + 8));
                    members.put(strings.at(b.getInt(m)), t[5] == 1 ? off & 0xffffff : off);
                }
                String name = strings.at(t[1]);
                structs.computeIfAbsent(name, k -> new ArrayList<>())
                        .add(new Struct(name, Integer.toUnsignedLong(t[3]), members));
            } else if (kind == KIND_DATASEC) {
                Map<String, Long> vars = new LinkedHashMap<>();
                for (int i = 0; i < t[2]; i++) {
                    int v = t[4] + i * 12;
                    int varId = b.getInt(v);
                    if (varId <= 0 || varId >= types.size() || types.get(varId)[0] != KIND_VAR) {
                        throw new BtfFormatException("data section entry refers to type " + varId + ", not a variable");
                    }
                    vars.put(strings.at(types.get(varId)[1]), Integer.toUnsignedLong(b.getInt(v + 4)));
                }
                datasecs.put(strings.at(t[1]), vars);
            }
        }
        return new BtfFile(types.size() - 1, structs, datasecs);
    }

    private static int extraSize(int kind, int vlen) throws BtfFormatException {
        switch (kind) {
            case KIND_INT: case KIND_VAR: case KIND_DECL_TAG:
                return 4;
            case KIND_PTR: case KIND_FWD: case KIND_TYPEDEF: case KIND_VOLATILE: case KIND_CONST:
            case KIND_RESTRICT: case KIND_FUNC: case KIND_FLOAT: case KIND_TYPE_TAG:
                return 0;
            case KIND_ARRAY:
                return 12;
            case KIND_STRUCT: case KIND_UNION: case KIND_DATASEC: case KIND_ENUM64:
                return 12 * vlen;
            case KIND_ENUM: case KIND_FUNC_PROTO:
                return 8 * vlen;
            default:
                throw new BtfFormatException("unknown BTF kind " + kind);
        }
    }

    /** Number of types, not counting void. */
    public int typeCount() {
        return typeCount;
    }

    /** The struct (or union) named {@code name} that has members; forward declarations are skipped. */
    public Optional<Struct> struct(String name) {
        List<Struct> all = structs.getOrDefault(name, List.of());
        return all.stream().filter(s -> !s.memberBitOffsets().isEmpty()).findFirst();
    }

    /** Byte offset of variable {@code var} inside data section {@code section} (e.g. .rodata). */
    public Optional<Long> variableOffset(String section, String var) {
        return Optional.ofNullable(datasecVars.getOrDefault(section, Map.of()).get(var));
    }

    private static final class Strings {
        private final byte[] data;
        private final int off;
        private final int len;

        Strings(byte[] data, int off, int len) {
            this.data = data;
            this.off = off;
            this.len = len;
        }

        String at(int nameOff) {
            if (nameOff < 0 || nameOff >= len) {
                throw new IllegalArgumentException("string offset " + nameOff + " outside string section");
            }
            int end = off + nameOff;
            while (end < off + len && data[end] != 0) {
                end++;
            }
            return new String(data, off + nameOff, end - off - nameOff, StandardCharsets.UTF_8);
        }
    }
}
