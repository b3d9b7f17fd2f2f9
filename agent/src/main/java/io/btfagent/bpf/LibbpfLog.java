package io.btfagent.bpf;

import io.btfagent.bpf.internal.LibC;
import io.btfagent.bpf.internal.Libbpf;
import java.nio.charset.StandardCharsets;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.function.Consumer;

/**
 * Routes libbpf's own messages to the agent's log at debug level, and keeps the last few so a
 * failing call can say why (the verifier's and CO-RE relocator's complaints end up here).
 */
public final class LibbpfLog {
    private static final int KEEP = 12;
    private static final Deque<String> RECENT = new ArrayDeque<>();
    private static volatile Consumer<String> debug = s -> { };
    private static volatile java.util.function.BooleanSupplier debugWanted = () -> false;
    // Held strongly: libbpf keeps only the native function pointer.
    private static final Libbpf.PrintFn PRINT = LibbpfLog::print;

    private LibbpfLog() {
    }

    /**
     * Installs the print callback; {@code debugSink} receives every line while {@code wanted}
     * says so, and the warning and info lines always (to explain a failure). libbpf prints some
     * hundreds of debug lines per object load: unwanted, each is dropped before it is formatted.
     */
    public static void install(Consumer<String> debugSink, java.util.function.BooleanSupplier wanted) {
        debug = debugSink;
        debugWanted = wanted;
        Libbpf.libbpf_set_print(PRINT);
    }

    private static int print(int level, com.sun.jna.Pointer format, com.sun.jna.Pointer args) {
        try {
            if (level > 1 && !debugWanted.getAsBoolean()) { // LIBBPF_DEBUG
                return 0;
            }
            byte[] buf = new byte[1024];
            int n = LibC.vsnprintf(buf, buf.length, format, args);
            int len = Math.max(0, Math.min(n, buf.length - 1));
            String line = new String(buf, 0, len, StandardCharsets.UTF_8).stripTrailing();
            if (line.isEmpty()) {
                return 0;
            }
            synchronized (RECENT) {
                if (level <= 1) { // LIBBPF_WARN, LIBBPF_INFO: the lines that explain failures
                    RECENT.addLast(line);
                    if (RECENT.size() > KEEP) {
                        RECENT.removeFirst();
                    }
                }
            }
            debug.accept(line);
        } catch (Throwable ignored) {
            // never let an exception unwind into native code
        }
        return 0;
    }

    /** The recent warning lines, joined, and forgotten. */
    static String drain() {
        synchronized (RECENT) {
            String s = String.join(" | ", RECENT);
            RECENT.clear();
            return s;
        }
    }

    /** Forgets lines of calls that succeeded, so a later failure shows only its own. */
    public static void clear() {
        drain();
    }
}
