package io.btfagent.runtime;

import ch.qos.logback.classic.Logger;
import io.btfagent.bpf.internal.GlibcMalloc;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * Gives the C library's free memory back to the kernel ({@code malloc_trim}) when the agent's
 * start-up is over, and once more after its first seconds of capture. Start-up leaves
 * megabytes free but resident in the C library's arenas: the JIT compiling the agent's code
 * (and byte-buddy's, the JDK's class generation it drives) frees its large work areas there,
 * as do JNA and libbpf. A JVM that has ever freed a large block keeps glibc from trimming on
 * its own (the trim threshold follows the largest block freed). What is in use stays.
 */
final class NativeHeap {
    private NativeHeap() {
    }

    /** Trims now; {@code when} names the moment in the debug line. Never throws. */
    static void trim(Logger log, String when) {
        try {
            if (!GlibcMalloc.bind()) {
                return;
            }
            long before = log.isDebugEnabled() ? residentKib() : -1;
            long t0 = System.nanoTime();
            GlibcMalloc.malloc_trim(0);
            if (before >= 0) {
                log.debug("free native memory given back {}: resident {} KiB, now {} KiB ({} ms)", when, before,
                        residentKib(), (System.nanoTime() - t0) / 1_000_000);
            }
        } catch (Throwable t) {
            log.debug("native memory not trimmed {}: {}", when, t.toString());
        }
    }

    private static long residentKib() {
        try {
            for (String l : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (l.startsWith("VmRSS:")) {
                    return Long.parseLong(l.replaceAll("[^0-9]", ""));
                }
            }
        } catch (java.io.IOException | RuntimeException e) {
            return -1;
        }
        return -1;
    }
}
