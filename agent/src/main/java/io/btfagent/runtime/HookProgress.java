package io.btfagent.runtime;

import io.btfagent.log.AgentLog;

/**
 * How far hooking got, for the summary of a JVM that exits early: when capture started (the
 * first library hooked with its BTF) and what is being hooked now. Written by the scan thread.
 */
final class HookProgress {
    /** When the first library's probes were attached (ms after JVM start), -1 before. */
    private volatile long firstHookedMs = -1;
    /** The library being hooked now, null between hooks: what an early exit interrupted. */
    private volatile String hooking;
    private volatile long hookingSinceMs;

    void hooking(String library) {
        hookingSinceMs = AgentLog.sinceJvmStartMs();
        hooking = library;
    }

    void done() {
        hooking = null;
    }

    void hooked() {
        if (firstHookedMs < 0) {
            firstHookedMs = AgentLog.sinceJvmStartMs();
        }
    }

    /** Ms after JVM start when the first probes were attached; -1 if none yet. */
    long firstHookedMs() {
        return firstHookedMs;
    }

    /** What is being hooked now and since when (ms after JVM start), or null. */
    String hooking() {
        String h = hooking;
        return h == null ? null : h + " (since " + hookingSinceMs + " ms after JVM start)";
    }
}
