package io.btfagent.testing;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.ManagementFactory;

/**
 * What every fuzz target asserts besides "no unexpected exception": one input may allocate no
 * more than a bound that fits the parser (a file the agent does not control must not make it
 * allocate what the file merely claims), and may take no longer than a time bound.
 */
public final class FuzzBounds {
    private static final com.sun.management.ThreadMXBean THREADS =
            (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();

    /** The body of one fuzz execution. */
    @FunctionalInterface
    public interface Body {
        void run() throws Exception;
    }

    private FuzzBounds() {
    }

    /**
     * Runs {@code body}; fails if this thread allocated more than {@code maxBytes} in it or it
     * took more than {@code maxMillis}. A run over either is repeated once and the repetition
     * judged: the first run of a target also loads classes and runs before the JIT has.
     */
    public static void within(String what, long maxBytes, long maxMillis, Body body) throws Exception {
        long[] first = measure(body);
        if (first[0] <= maxBytes && first[1] <= maxMillis) {
            return;
        }
        // the first inputs also load and initialize classes (on this thread): measure again
        long[] again = measure(body);
        assertTrue(again[0] <= maxBytes, what + " allocated " + again[0] + " bytes, more than its bound " + maxBytes);
        assertTrue(again[1] <= maxMillis, what + " took " + again[1] + " ms, more than its bound " + maxMillis);
    }

    /** {bytes allocated by this thread, ms} of one run of {@code body}. */
    private static long[] measure(Body body) throws Exception {
        long thread = Thread.currentThread().getId();
        long before = THREADS.getThreadAllocatedBytes(thread);
        long t0 = System.nanoTime();
        body.run();
        long ms = (System.nanoTime() - t0) / 1_000_000;
        return new long[] {THREADS.getThreadAllocatedBytes(thread) - before, ms};
    }
}
