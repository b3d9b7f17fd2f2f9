package io.btfagent.event;

import io.btfagent.bpf.internal.LibC;
import io.btfagent.bpf.internal.NativesBound;
import java.lang.invoke.MethodHandle;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.MethodType;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The OS side of Java threads, as events name them: the current thread's OS id (the
 * {@code tid} of its records, in the JVM's own pid namespace) and whether a thread is virtual
 * (its OS thread is only its carrier of the moment).
 */
public final class OsThreads {
    /** Thread.isVirtual() from JDK 21; null before. */
    private static final MethodHandle IS_VIRTUAL = isVirtualHandle();

    private OsThreads() {
    }

    /** gettid's system call number on this machine; -1 where it is not known here. */
    private static final long SYS_GETTID = switch (System.getProperty("os.arch")) {
        case "amd64", "x86_64" -> 186;
        case "aarch64" -> 178;
        default -> -1;
    };

    /**
     * This thread's OS id in the JVM's own pid namespace: gettid(2), or where its number is not
     * known here, the link /proc/thread-self (-> {@code <pid>/task/<tid>}); -1 if unreadable.
     * The system call is what a thread's first JSSE event or identity join pays: about a
     * hundredth of reading the link. It is made only once the agent has bound its natives
     * ({@link NativesBound}).
     */
    public static int currentTid() {
        if (SYS_GETTID > 0 && NativesBound.yes()) {
            try {
                return (int) LibC.syscall(SYS_GETTID);
            } catch (LinkageError e) {
                // no C library binding: the link below
            }
        }
        try {
            String link = Files.readSymbolicLink(Path.of("/proc/thread-self")).toString();
            return Integer.parseInt(link.substring(link.lastIndexOf('/') + 1));
        } catch (Exception e) {
            return -1;
        }
    }

    /** Whether {@code t} is a virtual thread (never before JDK 21). */
    public static boolean isVirtual(Thread t) {
        try {
            return IS_VIRTUAL != null && (boolean) IS_VIRTUAL.invoke(t);
        } catch (Throwable e) {
            return false;
        }
    }

    private static MethodHandle isVirtualHandle() {
        try {
            return MethodHandles.publicLookup().findVirtual(Thread.class, "isVirtual",
                    MethodType.methodType(boolean.class));
        } catch (ReflectiveOperationException e) {
            return null;
        }
    }
}
