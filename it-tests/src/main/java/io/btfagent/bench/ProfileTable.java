package io.btfagent.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * CPU time by component from async-profiler's collapsed stacks ({@link ProfileWindow}, one
 * line per stack: {@code [thread tid=N];frame;...;leaf count}, kernel frames ending in
 * {@code _[k]}). Each stack goes to the first component of {@link Component} that claims it,
 * by its thread's name and its frames' names (this project's classes, the kernel's uprobe and
 * BPF functions, the JVM's GC and compilers).
 */
final class ProfileTable {
    /** The kernel's side of a probe hit: the breakpoint trap, uprobe and uretprobe handling, the BPF program and its helpers. */
    private static final Pattern KERNEL_PROBE = Pattern.compile(
            "^(asm_exc_int3|exc_int3|do_int3|handle_swbp|uprobe_|uretprobe_|__uprobe|handle_trampoline|arch_uprobe|"
                    + "arch_uretprobe|handler_chain|find_active_uprobe|dup_utask|prepare_uretprobe|xol_|"
                    + "__create_xol_area|trace_call_bpf|bpf_|__bpf_|htab_|__htab_)[^;]*_\\[k\\]$");
    /** The agent's own packages (it-tests' io.btfagent.bench, .demo and .netty are the application). */
    private static final Pattern AGENT = Pattern.compile("^io/btfagent/(BtfAgent|(bpf|btf|bootstrap|cli|config|elf|"
            + "event|files|hook|identity|instrument|jsse|log|natives|redact|runtime|sink|tls|watch|x86)/)");
    private static final Pattern FILE_WRITE = Pattern.compile(
            "FileChannelImpl|FileDispatcherImpl|FileOutputStream\\.write|io/btfagent/files/|"
                    + "^(ksys_write|vfs_write|__x64_sys_write|ext4_\\w*|__x64_sys_fsync|__x64_sys_fdatasync)_\\[k\\]$");

    /** The components, in the order a stack is offered to them. */
    enum Component {
        KERNEL_PROBES("kernel: uprobe + uretprobe handling and the BPF programs (in the application's threads)"),
        IDENTITY("agent: identity and JSSE advice (woven code, in the application's threads)"),
        RING_READER("agent: ring reader (btf-agent-ring: decode, route, hand-off to the sinks)"),
        REDACTION("agent: redaction (io.btfagent.redact, on the ring reader's thread)"),
        JSONL_ENCODE("agent: jsonl sink, encoding (btf-agent-sink-jsonl)"),
        JSONL_WRITE("agent: jsonl sink, writing the file (btf-agent-sink-jsonl)"),
        OTHER_SINKS("agent: other sinks (btf-agent-sink-*)"),
        AGENT_OTHER("agent: other threads (scan, control, logging)"),
        GC("JVM: garbage collection"),
        JIT("JVM: JIT compilers"),
        APPLICATION("application: TLS + HTTP (its own threads, less the rows above)"),
        OTHER("other (JVM service threads)");

        final String what;

        Component(String what) {
            this.what = what;
        }
    }

    private ProfileTable() {
    }

    /** Samples per component of the collapsed stacks in {@code file}. */
    static Map<Component, Long> read(Path file) throws IOException {
        Map<Component, Long> out = new LinkedHashMap<>();
        for (Component c : Component.values()) {
            out.put(c, 0L);
        }
        for (String line : Files.readAllLines(file)) {
            int sp = line.lastIndexOf(' ');
            if (sp < 0) {
                continue;
            }
            long n = Long.parseLong(line.substring(sp + 1).trim());
            out.merge(classify(line.substring(0, sp).split(";")), n, Long::sum);
        }
        return out;
    }

    static Component classify(String[] frames) {
        String thread = frames.length > 0 && frames[0].startsWith("[") ? frames[0] : "";
        if (thread.startsWith("[btf-agent-ring")) {
            return any(frames, "io/btfagent/redact/") ? Component.REDACTION : Component.RING_READER;
        }
        if (thread.startsWith("[btf-agent-sink-jsonl")) {
            return anyMatch(frames, FILE_WRITE) ? Component.JSONL_WRITE : Component.JSONL_ENCODE;
        }
        if (thread.startsWith("[btf-agent-sink-")) {
            return Component.OTHER_SINKS;
        }
        if (thread.startsWith("[btf-agent")) {
            return Component.AGENT_OTHER;
        }
        if (anyMatch(frames, KERNEL_PROBE)) {
            return Component.KERNEL_PROBES;
        }
        if (any(frames, "io/btfagent/identity/") || any(frames, "io/btfagent/bootstrap/")
                || any(frames, "io/btfagent/jsse/")) {
            return Component.IDENTITY;
        }
        if (anyMatch(frames, AGENT)) {
            return Component.AGENT_OTHER;
        }
        if (thread.startsWith("[GC Thread") || thread.startsWith("[G1 ") || thread.startsWith("[ZGC")
                || thread.startsWith("[Shenandoah") || (thread.startsWith("[VM Thread") && (any(frames, "G1")
                        || any(frames, "GC") || any(frames, "Collect")))) {
            return Component.GC;
        }
        // thread names as the kernel keeps them, cut to 15 characters
        if (thread.startsWith("[C2 Compiler") || thread.startsWith("[C1 Compiler")) {
            return Component.JIT;
        }
        if (thread.isEmpty() || List.of("[VM Thread", "[VM Periodic", "[Service Thread", "[Monitor Defl",
                "[Signal Dispatch", "[Common-Cleaner", "[Reference Handl", "[Finalizer", "[Notification",
                "[Attach Listen", "[process reaper", "[Sweeper")
                .stream().anyMatch(thread::startsWith)) {
            return Component.OTHER;
        }
        return Component.APPLICATION;
    }

    private static boolean any(String[] frames, String part) {
        for (String f : frames) {
            if (f.contains(part)) {
                return true;
            }
        }
        return false;
    }

    private static boolean anyMatch(String[] frames, Pattern p) {
        for (String f : frames) {
            if (p.matcher(f).find()) {
                return true;
            }
        }
        return false;
    }

    /**
     * Markdown rows: component, CPU seconds (samples × the 1 ms interval) of a profiled run
     * without the agent ({@code none}, null if there was none) and with it, the share of the
     * latter, and CPU seconds per 1,000 requests of each ({@code requests}: without, with).
     */
    static String markdown(String title, Map<Component, Long> none, Map<Component, Long> agent, double seconds,
            long[] requests, String files) {
        long totalAgent = agent.values().stream().mapToLong(Long::longValue).sum();
        long totalNone = none == null ? 0 : none.values().stream().mapToLong(Long::longValue).sum();
        StringBuilder b = new StringBuilder(String.format(Locale.ROOT, "%n| %s: CPU by component, %.0f s profiled per"
                + " run (%d CPUs) | no agent: CPU s | agent: CPU s | agent: share | no agent: CPU ms per 1,000"
                + " requests | agent: CPU ms per 1,000 requests |%n|---|---|---|---|---|---|%n", title, seconds,
                Runtime.getRuntime().availableProcessors()));
        for (Map.Entry<Component, Long> e : agent.entrySet()) {
            long n = none == null ? 0 : none.get(e.getKey());
            b.append(String.format(Locale.ROOT, "| %s | %s | %.2f | %.1f %% | %s | %.1f |%n", e.getKey().what,
                    none == null ? "–" : String.format(Locale.ROOT, "%.2f", n / 1000.0), e.getValue() / 1000.0,
                    totalAgent == 0 ? 0 : 100.0 * e.getValue() / totalAgent,
                    none == null ? "–" : String.format(Locale.ROOT, "%.1f", n * 1000.0 / Math.max(1, requests[0])),
                    e.getValue() * 1000.0 / Math.max(1, requests[1])));
        }
        b.append(String.format(Locale.ROOT, "| all (requests in the profiled window: %s without, %d with) | %s | %.2f |"
                + " 100 %% | %s | %.1f |%n", none == null ? "–" : Long.toString(requests[0]), requests[1],
                none == null ? "–" : String.format(Locale.ROOT, "%.2f", totalNone / 1000.0), totalAgent / 1000.0,
                none == null ? "–" : String.format(Locale.ROOT, "%.1f", totalNone * 1000.0 / Math.max(1, requests[0])),
                totalAgent * 1000.0 / Math.max(1, requests[1])));
        b.append("\n").append(files).append("\n");
        return b.toString();
    }
}
