package io.btfagent.bpf.internal;

/**
 * Whether the agent has bound its natives (JNA and libbpf, with JNA's JVM-wide properties put
 * back). Code that may run before that, on another thread, must not touch a JNA binding until
 * then: JNA initialised outside the agent's binding sets {@code jna.loaded} and
 * {@code jnidispatch.path} for the whole JVM and unpacks its library where the application's
 * own JNA looks (ConflictIT).
 */
public final class NativesBound {
    private static volatile boolean bound;

    private NativesBound() {
    }

    /** Called once the agent's binding succeeded. */
    public static void mark() {
        bound = true;
    }

    public static boolean yes() {
        return bound;
    }
}
