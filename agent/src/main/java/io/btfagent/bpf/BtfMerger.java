package io.btfagent.bpf;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import io.btfagent.bpf.internal.LibC;
import io.btfagent.bpf.internal.Libbpf;
import io.btfagent.btf.BtfFile;
import io.btfagent.btf.BtfFormatException;
import io.btfagent.files.BoundedFile;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Set;

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
        return merge(kernelBtfPath, Set.of(), userBtf);
    }

    /**
     * As {@link #merge(String, byte[])}, with only the kernel types a program can reach through
     * {@code kernelTypes} (the names of its own types; empty: the whole kernel BTF), see
     * {@link KernelBtfSubset}: libbpf then parses tens of kilobytes at each load instead of the
     * kernel's megabytes.
     */
    public static Merged merge(String kernelBtfPath, Set<String> kernelTypes, byte[] userBtf) throws IOException {
        Kernel kernel = kernel(kernelBtfPath, kernelTypes);
        byte[][] parts;
        try {
            parts = parts(kernel, userBtf);
        } catch (BtfFormatException e) {
            return mergeWithLibbpf(kernelBtfPath, kernel.btf, userBtf);
        }
        return written(ByteBuffer.wrap(parts[0]), ByteBuffer.wrap(kernel.btf, kernel.typeOff, kernel.typeLen),
                ByteBuffer.wrap(parts[1]), ByteBuffer.wrap(kernel.btf, kernel.strOff, kernel.strLen),
                ByteBuffer.wrap(parts[2]));
    }

    /**
     * The kernel's BTF alone, cut to {@code kernelTypes} as for {@link #merge(String, Set, byte[])}:
     * for a program that relocates kernel types only (a library hooked without BTF of its own).
     */
    public static Merged kernelOnly(String kernelBtfPath, Set<String> kernelTypes) throws IOException {
        return written(ByteBuffer.wrap(kernel(kernelBtfPath, kernelTypes).btf));
    }

    /** A memfd holding {@code buffers} one after the other. */
    private static Merged written(ByteBuffer... buffers) throws IOException {
        int fd = LibC.memfd_create("btf-agent-btf", LibC.MFD_CLOEXEC);
        if (fd < 0) {
            throw new IOException("memfd_create failed (errno " + com.sun.jna.Native.getLastError() + ")");
        }
        long size = 0;
        try (FileChannel ch = FileChannel.open(Path.of("/proc/self/fd/" + fd), StandardOpenOption.WRITE)) {
            for (ByteBuffer b : buffers) {
                size += b.remaining();
            }
            long left = size;
            while (left > 0) {
                left -= ch.write(buffers);
            }
        } catch (IOException e) {
            LibC.close(fd);
            throw e;
        }
        return new Merged(fd, size);
    }

    /**
     * Reads and indexes the kernel's BTF now, so that the first library hooked later (a late
     * load, where the caller may be waiting) merges without doing it.
     */
    public static void prepare(String kernelBtfPath, Set<String> kernelTypes) throws IOException {
        kernel(kernelBtfPath, kernelTypes);
    }

    private static final int HEADER = 24;

    /**
     * The most a kernel BTF may hold: this machine's 6.18 kernel has 5.4 MB, the largest
     * distribution kernels a little over 10 MB.
     */
    public static final long KERNEL_BTF_BOUND = 64L << 20;

    /**
     * The kernel's BTF as read once, with where its sections are and how many types it has:
     * later merges (a library loaded late) need neither read nor walk it again. Softly held (5
     * MB or so, freed if the heap needs it and read again then); {@code /sys/kernel/btf/vmlinux}
     * does not change while the kernel runs.
     */
    private record Kernel(String path, Set<String> subset, byte[] btf, int types, int typeOff, int typeLen,
            int strOff, int strLen) {
    }

    private static java.lang.ref.SoftReference<Kernel> kernelCache = new java.lang.ref.SoftReference<>(null);

    private static synchronized Kernel kernel(String path, Set<String> subset) throws IOException {
        Kernel k = kernelCache.get();
        if (k != null && k.path.equals(path) && k.subset.equals(subset)) {
            return k;
        }
        byte[] btf;
        try {
            btf = BoundedFile.read(Path.of(path), KERNEL_BTF_BOUND, "kernel BTF", BtfFile.HEADER_BYTES,
                    BtfFile::declaredLength);
        } catch (IOException e) {
            throw e.getMessage() != null && e.getMessage().startsWith("kernel BTF ") ? e
                    : new IOException("cannot parse kernel BTF " + path + " (" + e + ")", e);
        }
        if (!subset.isEmpty()) {
            try {
                btf = KernelBtfSubset.of(btf, subset);
            } catch (BtfFormatException | RuntimeException e) {
                // a kernel BTF this class does not know: the whole of it, as libbpf would read it
            }
        }
        k = indexed(path, subset, btf);
        kernelCache = new java.lang.ref.SoftReference<>(k);
        return k;
    }

    /** {@code btf}'s sections and type count; a BTF this class cannot walk gets types = -1. */
    private static Kernel indexed(String path, Set<String> subset, byte[] btf) {
        try {
            ByteBuffer k = section(btf, "kernel");
            int typeOff = HEADER + k.getInt(8);
            int typeLen = k.getInt(12);
            int types = 0;
            for (int at = typeOff; at < typeOff + typeLen; at += typeSize(k, at, typeOff + typeLen)) {
                types++;
            }
            return new Kernel(path, subset, btf, types, typeOff, typeLen, HEADER + k.getInt(16), k.getInt(20));
        } catch (BtfFormatException e) {
            return new Kernel(path, subset, btf, -1, 0, 0, 0, 0);
        }
    }

    /**
     * {@code base} with {@code extra}'s types appended after its own, as libbpf's btf__add_btf
     * does (without deduplicating strings): {@code extra}'s type ids are shifted past {@code
     * base}'s types and its string offsets past {@code base}'s strings; {@code base}'s bytes are
     * copied as they are.
     */
    static byte[] append(byte[] base, byte[] extra) throws BtfFormatException {
        Kernel k = indexed("", Set.of(), base);
        byte[][] parts = parts(k, extra);
        byte[] out = new byte[parts[0].length + k.typeLen + parts[1].length + k.strLen + parts[2].length];
        int at = 0;
        for (byte[] piece : new byte[][] {parts[0], java.util.Arrays.copyOfRange(base, k.typeOff, k.typeOff + k.typeLen),
            parts[1], java.util.Arrays.copyOfRange(base, k.strOff, k.strOff + k.strLen), parts[2]}) {
            System.arraycopy(piece, 0, out, at, piece.length);
            at += piece.length;
        }
        return out;
    }

    /**
     * What a merge writes besides the kernel's own type and string sections: {header, the
     * library's types with ids and string offsets shifted, the library's strings}. The merged
     * file is header, kernel types, library types, kernel strings, library strings.
     */
    private static byte[][] parts(Kernel k, byte[] extra) throws BtfFormatException {
        if (k.types < 0) {
            section(k.btf, "kernel"); // says why
            throw new BtfFormatException("kernel BTF: a kind not known here");
        }
        ByteBuffer u = section(extra, "library");
        int uTypeOff = HEADER + u.getInt(8);
        int uTypeLen = u.getInt(12);
        int uStrOff = HEADER + u.getInt(16);
        int uStrLen = u.getInt(20);
        byte[] header = new byte[HEADER];
        ByteBuffer h = ByteBuffer.wrap(header).order(ByteOrder.LITTLE_ENDIAN);
        h.putShort(0, (short) 0xeB9F);
        h.put(2, (byte) 1);
        h.putInt(4, HEADER);
        h.putInt(8, 0);
        h.putInt(12, k.typeLen + uTypeLen);
        h.putInt(16, k.typeLen + uTypeLen);
        h.putInt(20, k.strLen + uStrLen);
        byte[] types = java.util.Arrays.copyOfRange(extra, uTypeOff, uTypeOff + uTypeLen);
        ByteBuffer t = ByteBuffer.wrap(types).order(ByteOrder.LITTLE_ENDIAN);
        for (int at = 0; at < types.length;) {
            int size = typeSize(t, at, types.length);
            remap(t, at, k.types, k.strLen);
            at += size;
        }
        return new byte[][] {header, types, java.util.Arrays.copyOfRange(extra, uStrOff, uStrOff + uStrLen)};
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

    /** {@link #typeSize(ByteBuffer, int)} of a type that must end by {@code end}, its type section's end. */
    private static int typeSize(ByteBuffer b, int at, int end) throws BtfFormatException {
        if (at + 12 > end) {
            throw new BtfFormatException("BTF type at " + at + " runs past its type section");
        }
        int size = typeSize(b, at);
        if (at + size > end) {
            throw new BtfFormatException("BTF type at " + at + " runs past its type section");
        }
        return size;
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
        return mergeWithLibbpf(kernel, userBtf);
    }

    /**
     * As {@link #mergeWithLibbpf(String, byte[])} with the kernel BTF as already read (bounded):
     * libbpf does not read the file again, which may have grown or changed meanwhile.
     */
    static Merged mergeWithLibbpf(String kernelBtfPath, byte[] kernelBtf, byte[] userBtf) throws IOException {
        Memory k = new Memory(Math.max(1, kernelBtf.length));
        k.write(0, kernelBtf, 0, kernelBtf.length);
        Pointer kernel = Libbpf.btf__new(k, kernelBtf.length);
        if (kernel == null) {
            throw new IOException("cannot parse kernel BTF " + kernelBtfPath + " (errno " + com.sun.jna.Native.getLastError() + ")");
        }
        return mergeWithLibbpf(kernel, userBtf);
    }

    /** Appends {@code userBtf} to {@code kernel} (freed here) through libbpf, into a memfd. */
    private static Merged mergeWithLibbpf(Pointer kernel, byte[] userBtf) throws IOException {
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
