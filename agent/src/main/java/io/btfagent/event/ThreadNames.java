package io.btfagent.event;

import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Java names of the threads that call into TLS libraries, by OS thread id. The instrumented TLS
 * stacks tell the agent (see {@code io.btfagent.identity}) which thread is which before the
 * thread's first library call; a record's {@code thread} is then that name, else the OS name
 * the kernel read ({@code comm}).
 *
 * <p>A thread id can be reused by a new thread after the old one ended. The JVM gives each Java
 * thread its name as OS name, cut to 15 bytes (the main thread keeps the launcher's
 * {@code java}), so a Java name is used only while the record's OS name agrees with it: a new
 * thread on a reused id has another OS name until it registers itself.
 */
public final class ThreadNames {
    private static final int COMM_BYTES = 15;
    private static final Map<Integer, String> BY_TID = new ConcurrentHashMap<>();
    /** Changes with every registration: a name worked out before is still right while it is the same. */
    private static final java.util.concurrent.atomic.AtomicInteger GENERATION =
            new java.util.concurrent.atomic.AtomicInteger();

    private ThreadNames() {
    }

    /** Records that the OS thread {@code tid} is the Java thread {@code name}. */
    public static void register(int tid, String name) {
        BY_TID.put(tid, name);
        GENERATION.incrementAndGet();
    }

    /**
     * A number that changes whenever a registration does: {@link #name} gives the same answer
     * for the same tid and comm while it stays the same (decoders cache names by it).
     */
    public static int generation() {
        return GENERATION.get();
    }

    /** The name to report for a record of thread {@code tid} whose OS name was {@code comm}. */
    public static String name(int tid, String comm) {
        String java = BY_TID.get(tid);
        if (java == null || !(comm.equals("java") || agrees(java, comm))) {
            return comm;
        }
        return java;
    }

    /** Whether {@code comm} is what the JVM makes of {@code name}: its first 15 bytes. */
    static boolean agrees(String name, String comm) {
        byte[] b = name.getBytes(StandardCharsets.UTF_8);
        if (b.length <= COMM_BYTES) {
            return name.equals(comm);
        }
        byte[] c = comm.getBytes(StandardCharsets.UTF_8);
        if (c.length > COMM_BYTES) {
            return false;
        }
        for (int i = 0; i < c.length; i++) {
            if (b[i] != c[i]) {
                return false;
            }
        }
        // a multi-byte character cut at byte 15 leaves fewer bytes in comm
        return c.length > COMM_BYTES - 4;
    }

    /** Forgets every registration (tests). */
    static void clear() {
        BY_TID.clear();
        GENERATION.incrementAndGet();
    }
}
