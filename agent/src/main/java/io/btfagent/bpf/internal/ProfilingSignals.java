package io.btfagent.bpf.internal;

/**
 * Holds the signals that sampling profilers send (SIGPROF, SIGVTALRM) away from the calling
 * thread while it runs something the kernel abandons on any pending signal. The kernel's BPF
 * verifier gives up with EAGAIN when a signal is pending, and libbpf retries only a few times:
 * under async-profiler (perf events or itimer, SIGPROF every 200 µs or so) a program that takes
 * longer to verify than the sampling period never loads. A held signal stays pending and is
 * delivered when the mask is restored, so the profiler only sees that thread's sample later.
 * The JVM itself uses neither signal. Bound apart from {@link LibC}: a C library without
 * {@code pthread_sigmask} leaves every other binding working, and nothing is held then.
 */
public final class ProfilingSignals implements AutoCloseable {
    private static final int SIG_BLOCK = 0;
    private static final int SIG_SETMASK = 2;
    private static final int SIGVTALRM = 26;
    private static final int SIGPROF = 27;
    /** glibc's and musl's sigset_t: 1024 bits. */
    private static final int SIGSET_BYTES = 128;
    private static volatile Boolean available;

    private final byte[] previous;

    private ProfilingSignals(byte[] previous) {
        this.previous = previous;
    }

    /** Holds SIGPROF and SIGVTALRM on this thread until {@link #close()}. */
    public static ProfilingSignals hold() {
        if (!bind()) {
            return new ProfilingSignals(null);
        }
        byte[] set = new byte[SIGSET_BYTES];
        addSignal(set, SIGPROF);
        addSignal(set, SIGVTALRM);
        byte[] previous = new byte[SIGSET_BYTES];
        return new ProfilingSignals(pthread_sigmask(SIG_BLOCK, set, previous) == 0 ? previous : null);
    }

    /** Signal n is bit n - 1 of the set, in the byte order of the machine's longs (x86-64, arm64: little). */
    static void addSignal(byte[] set, int signal) {
        set[(signal - 1) / 8] |= (byte) (1 << ((signal - 1) % 8));
    }

    /** Gives the thread back the mask it had; a held signal is delivered now. */
    @Override
    public void close() {
        if (previous != null) {
            pthread_sigmask(SIG_SETMASK, previous, null);
        }
    }

    private static synchronized boolean bind() {
        if (available == null) {
            available = LibC.bindIfPresent(ProfilingSignals.class);
        }
        return available;
    }

    /** int pthread_sigmask(int how, const sigset_t *set, sigset_t *oldset) */
    private static native int pthread_sigmask(int how, byte[] set, byte[] oldset);
}
