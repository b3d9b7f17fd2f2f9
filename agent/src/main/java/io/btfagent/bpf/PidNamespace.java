package io.btfagent.bpf;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A pid namespace as {@code bpf_get_ns_current_pid_tgid} names it: the device and inode of its
 * nsfs file ({@code /proc/<pid>/ns/pid}). The BPF program matches the JVM's threads by their
 * numbers in this namespace, which are the only ones a JVM in a container can know.
 *
 * @param kernelDev the nsfs device as the kernel encodes a {@code dev_t} ({@code major << 20 | minor}),
 *     which is what the helper compares with; {@code stat} reports it in another encoding
 * @param inode the namespace's inode number
 */
public record PidNamespace(long kernelDev, long inode) {
    /** The initial pid namespace's inode, the same on every kernel (PROC_PID_INIT_INO). */
    static final long INITIAL_INODE = 0xEFFFFFFCL;

    /**
     * Whether this is the initial pid namespace, whose numbers are the ones
     * {@code bpf_get_current_pid_tgid} gives: the program then needs no namespace lookup.
     */
    public boolean isInitial() {
        return inode == INITIAL_INODE;
    }

    /** The namespace this process's threads live in ({@code /proc/self/ns/pid}). */
    public static PidNamespace ofThisProcess() throws IOException {
        return of(Path.of("/proc/self/ns/pid"));
    }

    /** The namespace behind an nsfs file such as {@code /proc/<pid>/ns/pid}. */
    public static PidNamespace of(Path nsFile) throws IOException {
        // the attributes of the namespace itself: the magic link is followed, as stat(2) does
        long dev = ((Number) Files.getAttribute(nsFile, "unix:dev")).longValue();
        long ino = ((Number) Files.getAttribute(nsFile, "unix:ino")).longValue();
        return new PidNamespace(kernelDev(dev), ino);
    }

    /** glibc's {@code st_dev} encoding (gnu_dev_major/minor) to the kernel's internal {@code dev_t}. */
    static long kernelDev(long userDev) {
        long major = ((userDev >>> 8) & 0xfff) | ((userDev >>> 32) & ~0xfffL);
        long minor = (userDev & 0xff) | ((userDev >>> 12) & ~0xffL);
        return (major << 20) | minor;
    }
}
