package io.btfagent.bpf;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import io.btfagent.bpf.internal.LibC;
import io.btfagent.bpf.internal.Libbpf;
import io.btfagent.btf.BtfFormatException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Makes the custom BTF for CO-RE: the kernel's BTF with one library build's BTF appended.
 * libbpf's {@code btf_custom_path} replaces the kernel BTF rather than adding to it, and the
 * program relocates kernel types ({@code struct pt_regs}) as well as library types, so both
 * must be in one file. The result lives in a memfd: no temp file to clean up, gone on close.
 */
public final class BtfMerger {
    private BtfMerger() {
    }

    /** A merged BTF, readable by path until closed. */
    public static final class Merged implements AutoCloseable {
        private final int fd;
        private final long size;

        Merged(int fd, long size) {
            this.fd = fd;
            this.size = size;
        }

        /** A path libbpf can open. */
        public String path() {
            return "/proc/self/fd/" + fd;
        }

        public long size() {
            return size;
        }

        @Override
        public void close() {
            LibC.close(fd);
        }
    }

    /**
     * Merges {@code kernelBtfPath} (e.g. /sys/kernel/btf/vmlinux) with {@code userBtf}: by
     * {@link #append} when both are BTF it understands (a few milliseconds), else through
     * libbpf's {@code btf__add_btf}, which first indexes every kernel type (tens of ms).
     */
    public static Merged merge(String kernelBtfPath, byte[] userBtf) throws IOException {
        byte[] kernel;
        try {
            kernel = Files.readAllBytes(Path.of(kernelBtfPath));
        } catch (IOException e) {
            throw new IOException("cannot parse kernel BTF " + kernelBtfPath + " (" + e + ")", e);
        }
        byte[] appended;
        try {
            appended = append(kernel, userBtf);
        } catch (BtfFormatException e) {
            return mergeWithLibbpf(kernelBtfPath, userBtf);
        }
        int fd = LibC.memfd_create("btf-agent-btf", LibC.MFD_CLOEXEC);
        if (fd < 0) {
            throw new IOException("memfd_create failed (errno " + com.sun.jna.Native.getLastError() + ")");
        }
        try (FileChannel ch = FileChannel.open(Path.of("/proc/self/fd/" + fd), StandardOpenOption.WRITE)) {
            ByteBuffer b = ByteBuffer.wrap(appended);
            while (b.hasRemaining()) {
                ch.write(b);
            }
        } catch (IOException e) {
            LibC.close(fd);
            throw e;
        }
        return new Merged(fd, appended.length);
    }

    private static final int HEADER = 24;

    /**
     * {@code base} with {@code extra}'s types appended after its own, as libbpf's btf__add_btf
     * does (without deduplicating strings): {@code extra}'s type ids are shifted past {@code
     * base}'s types and its string offsets past {@code base}'s strings; {@code base}'s bytes are
     * copied as they are.
     */
    static byte[] append(byte[] base, byte[] extra) throws BtfFormatException {
        ByteBuffer k = section(base, "kernel");
        ByteBuffer u = section(extra, "library");
        int kTypeOff = HEADER + k.getInt(8);
        int kTypeLen = k.getInt(12);
        int kStrOff = HEADER + k.getInt(16);
        int kStrLen = k.getInt(20);
        int uTypeOff = HEADER + u.getInt(8);
        int uTypeLen = u.getInt(12);
        int uStrOff = HEADER + u.getInt(16);
        int uStrLen = u.getInt(20);
        int kTypes = 0;
        for (int at = kTypeOff; at < kTypeOff + kTypeLen; at += typeSize(k, at)) {
            kTypes++;
        }
        byte[] out = new byte[HEADER + kTypeLen + uTypeLen + kStrLen + uStrLen];
        ByteBuffer o = ByteBuffer.wrap(out).order(ByteOrder.LITTLE_ENDIAN);
        o.putShort(0, (short) 0xeB9F);
        o.put(2, (byte) 1);
        o.putInt(4, HEADER);
        o.putInt(8, 0);
        o.putInt(12, kTypeLen + uTypeLen);
        o.putInt(16, kTypeLen + uTypeLen);
        o.putInt(20, kStrLen + uStrLen);
        System.arraycopy(base, kTypeOff, out, HEADER, kTypeLen);
        System.arraycopy(extra, uTypeOff, out, HEADER + kTypeLen, uTypeLen);
        System.arraycopy(base, kStrOff, out, HEADER + kTypeLen + uTypeLen, kStrLen);
        System.arraycopy(extra, uStrOff, out, HEADER + kTypeLen + uTypeLen + kStrLen, uStrLen);
        int end = HEADER + kTypeLen + uTypeLen;
        for (int at = HEADER + kTypeLen; at < end;) {
            int size = typeSize(o, at);
            remap(o, at, kTypes, kStrLen);
            at += size;
        }
        return out;
    }

    private static ByteBuffer section(byte[] btf, String what) throws BtfFormatException {
        ByteBuffer b = ByteBuffer.wrap(btf).order(ByteOrder.LITTLE_ENDIAN);
        if (btf.length < HEADER || Short.toUnsignedInt(b.getShort(0)) != 0xeB9F || b.get(2) != 1
                || b.getInt(4) != HEADER) {
            throw new BtfFormatException(what + " BTF: not a little-endian BTF v1 with a 24-byte header");
        }
        long typeEnd = HEADER + Integer.toUnsignedLong(b.getInt(8)) + Integer.toUnsignedLong(b.getInt(12));
        long strEnd = HEADER + Integer.toUnsignedLong(b.getInt(16)) + Integer.toUnsignedLong(b.getInt(20));
        if (typeEnd > btf.length || strEnd > btf.length) {
            throw new BtfFormatException(what + " BTF: sections run past its end");
        }
        return b;
    }

    /** Bytes of the type at {@code at}: its 12-byte common part and what its kind adds. */
    private static int typeSize(ByteBuffer b, int at) throws BtfFormatException {
        int info = b.getInt(at + 4);
        int vlen = info & 0xffff;
        int kind = (info >>> 24) & 0x1f;
        return 12 + switch (kind) {
            case 1, 14, 17 -> 4; // int, var, decl_tag
            case 2, 7, 8, 9, 10, 11, 12, 16, 18 -> 0; // ptr, fwd, typedef, volatile, const, restrict, func, float, type_tag
            case 3 -> 12; // array
            case 4, 5, 15, 19 -> 12 * vlen; // struct, union, datasec, enum64
            case 6, 13 -> 8 * vlen; // enum, func_proto
            default -> throw new BtfFormatException("BTF kind " + kind + " at " + at + " is not known here");
        };
    }

    /** Shifts the type ids and string offsets of the appended type at {@code at}. */
    private static void remap(ByteBuffer b, int at, int types, int strings) {
        int info = b.getInt(at + 4);
        int vlen = info & 0xffff;
        int kind = (info >>> 24) & 0x1f;
        shiftName(b, at, strings);
        switch (kind) {
            case 2, 8, 9, 10, 11, 12, 13, 14, 17, 18 -> shiftType(b, at + 8, types); // size_or_type is a type
            default -> {
            }
        }
        int x = at + 12;
        switch (kind) {
            case 3 -> {
                shiftType(b, x, types);
                shiftType(b, x + 4, types);
            }
            case 4, 5 -> {
                for (int i = 0; i < vlen; i++) {
                    shiftName(b, x + 12 * i, strings);
                    shiftType(b, x + 12 * i + 4, types);
                }
            }
            case 6 -> {
                for (int i = 0; i < vlen; i++) {
                    shiftName(b, x + 8 * i, strings);
                }
            }
            case 19 -> {
                for (int i = 0; i < vlen; i++) {
                    shiftName(b, x + 12 * i, strings);
                }
            }
            case 13 -> {
                for (int i = 0; i < vlen; i++) {
                    shiftName(b, x + 8 * i, strings);
                    shiftType(b, x + 8 * i + 4, types);
                }
            }
            case 15 -> {
                for (int i = 0; i < vlen; i++) {
                    shiftType(b, x + 12 * i, types);
                }
            }
            default -> {
            }
        }
    }

    private static void shiftName(ByteBuffer b, int at, int strings) {
        int off = b.getInt(at);
        if (off != 0) {
            b.putInt(at, off + strings);
        }
    }

    private static void shiftType(ByteBuffer b, int at, int types) {
        int id = b.getInt(at);
        if (id != 0) {
            b.putInt(at, id + types);
        }
    }

    /** The same merge through libbpf, for BTF {@link #append} does not understand. */
    static Merged mergeWithLibbpf(String kernelBtfPath, byte[] userBtf) throws IOException {
        Pointer kernel = Libbpf.btf__parse(kernelBtfPath, null);
        if (kernel == null) {
            throw new IOException("cannot parse kernel BTF " + kernelBtfPath + " (errno " + com.sun.jna.Native.getLastError() + ")");
        }
        Pointer user = null;
        try {
            Memory data = new Memory(userBtf.length);
            data.write(0, userBtf, 0, userBtf.length);
            user = Libbpf.btf__new(data, userBtf.length);
            if (user == null) {
                throw new IOException("libbpf rejects the library BTF (errno " + com.sun.jna.Native.getLastError() + ")");
            }
            int added = Libbpf.btf__add_btf(kernel, user);
            if (added < 0) {
                throw new IOException("btf__add_btf failed (errno " + -added + ")");
            }
            Memory sizeOut = new Memory(4);
            Pointer raw = Libbpf.btf__raw_data(kernel, sizeOut);
            if (raw == null) {
                throw new IOException("btf__raw_data failed (errno " + com.sun.jna.Native.getLastError() + ")");
            }
            long size = Integer.toUnsignedLong(sizeOut.getInt(0));
            int fd = LibC.memfd_create("btf-agent-btf", LibC.MFD_CLOEXEC);
            if (fd < 0) {
                throw new IOException("memfd_create failed (errno " + com.sun.jna.Native.getLastError() + ")");
            }
            long done = 0;
            while (done < size) {
                long n = LibC.write(fd, raw.share(done), size - done);
                if (n <= 0) {
                    LibC.close(fd);
                    throw new IOException("writing merged BTF failed (errno " + com.sun.jna.Native.getLastError() + ")");
                }
                done += n;
            }
            return new Merged(fd, size);
        } finally {
            if (user != null) {
                Libbpf.btf__free(user);
            }
            Libbpf.btf__free(kernel);
        }
    }
}
