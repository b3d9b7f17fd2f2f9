package io.btfagent.bpf.internal;

import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Platform;
import com.sun.jna.Pointer;

/** The few libc calls the ring buffer and BTF merge need, by JNA direct mapping. */
public final class LibC {
    public static final int PROT_READ = 1;
    public static final int PROT_WRITE = 2;
    public static final int MAP_SHARED = 1;
    public static final int MAP_PRIVATE = 2;
    public static final int MAP_ANONYMOUS = 0x20;
    public static final int EPOLL_CTL_ADD = 1;
    public static final int EPOLL_CTL_DEL = 2;
    public static final int EPOLLIN = 1;
    public static final int EPOLL_CLOEXEC = 0x80000;
    public static final int MFD_CLOEXEC = 1;
    public static final int EINTR = 4;

    static {
        Native.register(LibC.class, NativeLibrary.getInstance(Platform.C_LIBRARY_NAME));
    }

    private LibC() {
    }

    /**
     * Binds {@code bindings}' native methods to the C library, for a function some C libraries
     * lack: false, and nothing bound, when it is missing. Kept apart from this class's own
     * bindings so that those work on every C library.
     */
    static boolean bindIfPresent(Class<?> bindings) {
        try {
            Native.register(bindings, NativeLibrary.getInstance(Platform.C_LIBRARY_NAME));
            return true;
        } catch (UnsatisfiedLinkError e) {
            return false;
        }
    }

    /** void *mmap(void *addr, size_t length, int prot, int flags, int fd, off_t offset) */
    public static native Pointer mmap(Pointer addr, long length, int prot, int flags, int fd, long offset);

    /** int munmap(void *addr, size_t length) */
    public static native int munmap(Pointer addr, long length);

    /** int epoll_create1(int flags) */
    public static native int epoll_create1(int flags);

    /** int epoll_ctl(int epfd, int op, int fd, struct epoll_event *event) */
    public static native int epoll_ctl(int epfd, int op, int fd, byte[] event);

    /** int epoll_wait(int epfd, struct epoll_event *events, int maxevents, int timeout) */
    public static native int epoll_wait(int epfd, byte[] events, int maxEvents, int timeoutMs);

    /** int memfd_create(const char *name, unsigned int flags) */
    public static native int memfd_create(String name, int flags);

    /** ssize_t write(int fd, const void *buf, size_t count) */
    public static native long write(int fd, Pointer buf, long count);

    /** int eventfd(unsigned int initval, int flags) */
    public static native int eventfd(int initval, int flags);

    public static final int EFD_CLOEXEC = 0x80000;
    public static final int EFD_NONBLOCK = 0x800;

    /** long syscall(long number, ...), with no argument after the number */
    public static native long syscall(long number);

    /** int close(int fd) */
    public static native int close(int fd);

    /** int vsnprintf(char *str, size_t size, const char *format, va_list ap) */
    public static native int vsnprintf(byte[] str, long size, Pointer format, Pointer ap);

    /** long sysconf(int name) */
    public static native long sysconf(int name);

    public static final int SC_PAGESIZE = 30;
}
