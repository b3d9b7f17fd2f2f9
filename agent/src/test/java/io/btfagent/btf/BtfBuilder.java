package io.btfagent.btf;

import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * Writes raw BTF by hand (linux/btf.h layout), so tests control every field, including the
 * wrong ones. Type ids are assigned in order from 1.
 */
final class BtfBuilder {
    static final int INT = 1, PTR = 2, ARRAY = 3, STRUCT = 4, UNION = 5, ENUM = 6, FWD = 7, TYPEDEF = 8,
            FUNC = 12, FUNC_PROTO = 13, VAR = 14, DATASEC = 15;

    private final ByteArrayOutputStream types = new ByteArrayOutputStream();
    private final ByteArrayOutputStream strings = new ByteArrayOutputStream();
    private int nextId = 1;

    BtfBuilder() {
        strings.write(0); // offset 0 is the empty name
    }

    /** Adds a string to the string section; returns its offset. */
    int str(String s) {
        int off = strings.size();
        strings.writeBytes(s.getBytes(StandardCharsets.UTF_8));
        strings.write(0);
        return off;
    }

    /** Appends one type record: header words, then {@code extra} 32-bit words. Returns its id. */
    int type(int nameOff, int kind, boolean kindFlag, int vlen, int sizeOrType, int... extra) {
        words(nameOff, (kindFlag ? 1 << 31 : 0) | (kind << 24) | vlen, sizeOrType);
        words(extra);
        return nextId++;
    }

    int intType(String name, int bytes) {
        return type(str(name), INT, false, 0, bytes, bytes * 8);
    }

    /** {@code members}: name offset, type id, bit offset, repeated. */
    int struct(String name, int size, int... members) {
        return type(name.isEmpty() ? 0 : str(name), STRUCT, false, members.length / 3, size, members);
    }

    int var(String name, int type) {
        return type(str(name), VAR, false, 0, type, 1 /* global */);
    }

    /** {@code vars}: var type id, offset, size, repeated. */
    int datasec(String name, int size, int... vars) {
        return type(str(name), DATASEC, false, vars.length / 3, size, vars);
    }

    private void words(int... ws) {
        ByteBuffer b = ByteBuffer.allocate(4 * ws.length).order(ByteOrder.LITTLE_ENDIAN);
        for (int w : ws) {
            b.putInt(w);
        }
        types.writeBytes(b.array());
    }

    int typeBytes() {
        return types.size();
    }

    int stringBytes() {
        return strings.size();
    }

    /** A well-formed blob: 24-byte header, types, strings. */
    byte[] build() {
        return build(0, types.size(), types.size(), strings.size());
    }

    /** A blob with the given header fields (offsets relative to the end of the header). */
    byte[] build(int typeOff, int typeLen, int strOff, int strLen) {
        ByteBuffer b = ByteBuffer.allocate(24 + types.size() + strings.size()).order(ByteOrder.LITTLE_ENDIAN);
        b.putShort((short) 0xeb9f).put((byte) 1).put((byte) 0).putInt(24);
        b.putInt(typeOff).putInt(typeLen).putInt(strOff).putInt(strLen);
        b.put(types.toByteArray()).put(strings.toByteArray());
        return b.array();
    }
}
