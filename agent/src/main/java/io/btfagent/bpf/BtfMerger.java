package io.btfagent.bpf;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import io.btfagent.bpf.internal.LibC;
import io.btfagent.bpf.internal.Libbpf;
import java.io.IOException;

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

    /** Merges {@code kernelBtfPath} (e.g. /sys/kernel/btf/vmlinux) with {@code userBtf}. */
    public static Merged merge(String kernelBtfPath, byte[] userBtf) throws IOException {
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
