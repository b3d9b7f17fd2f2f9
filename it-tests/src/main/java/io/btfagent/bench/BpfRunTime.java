package io.btfagent.bench;

import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import io.btfagent.bpf.internal.LibC;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The BPF programs' own run time, as the kernel counts it while run-time statistics are on
 * ({@code kernel.bpf_stats_enabled}): {@code run_time_ns} and {@code run_cnt} per program, read
 * with {@code bpftool prog show}. Statistics are switched on with {@code BPF_ENABLE_STATS}
 * (libbpf's {@code bpf_enable_stats}), which keeps them on while its descriptor is open: closing
 * it, or this JVM ending however it ends, switches them off again, and the sysctl is never
 * written. They cost every program run two clock reads, so the benchmark turns them on only
 * for runs of its own that are not timed.
 */
final class BpfRunTime {
    private static final String BPFTOOL = "/usr/sbin/bpftool";
    private static final int BPF_STATS_RUN_TIME = 0;
    private static final Pattern PROG_ID = Pattern.compile("(?m)^prog_id:\\s+(\\d+)");

    /** libbpf's bpf_enable_stats, by direct mapping on the agent's bundled libbpf. */
    static final class Stats {
        /** int bpf_enable_stats(enum bpf_stats_type type) */
        static native int bpf_enable_stats(int type);
    }

    private static boolean bound;

    private BpfRunTime() {
    }

    /** Whether bpftool is there to read the statistics. */
    static boolean available() {
        return Files.isExecutable(Path.of(BPFTOOL));
    }

    /** Run-time statistics on until the result is closed. */
    static synchronized AutoCloseable enable(String libbpf) throws IOException {
        if (!bound) {
            Native.register(Stats.class, NativeLibrary.getInstance(libbpf));
            bound = true;
        }
        int fd = Stats.bpf_enable_stats(BPF_STATS_RUN_TIME);
        if (fd < 0) {
            throw new IOException("bpf_enable_stats(BPF_STATS_RUN_TIME) failed: " + fd);
        }
        return () -> LibC.close(fd);
    }

    /** One program's counters: its name, the ns its runs took and how many runs. */
    record Program(String name, long runTimeNs, long runs) {
        double nsPerRun() {
            return runs == 0 ? Double.NaN : (double) runTimeNs / runs;
        }
    }

    /**
     * The programs the process {@code pid} holds, summed by name: the ids its descriptors
     * name in {@code /proc/<pid>/fdinfo} (a program's or a link's {@code prog_id}), since
     * Debian's bpftool cannot say which process holds a program.
     */
    static Map<String, Program> of(long pid) throws IOException, InterruptedException {
        Set<Long> ids = new HashSet<>();
        try (Stream<Path> fds = Files.list(
                Path.of("/proc/" + pid + "/fdinfo"))) {
            for (Path fd : (Iterable<Path>) fds::iterator) {
                try {
                    Matcher m = PROG_ID.matcher(Files.readString(fd));
                    while (m.find()) {
                        ids.add(Long.parseLong(m.group(1)));
                    }
                } catch (IOException e) {
                    // closed meanwhile
                }
            }
        } catch (IOException e) {
            return Map.of(); // the process is gone
        }
        if (ids.isEmpty()) {
            return Map.of();
        }
        Process p = new ProcessBuilder(BPFTOOL, "-j", "prog", "show").redirectErrorStream(false).start();
        String json;
        try (InputStream in = p.getInputStream()) {
            json = new String(in.readAllBytes(), StandardCharsets.UTF_8);
        }
        if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
            p.destroyForcibly();
            throw new IOException("bpftool prog show failed");
        }
        Map<String, Program> out = new TreeMap<>();
        for (String prog : objects(json)) {
            if (!ids.contains(number(prog, "id"))) {
                continue;
            }
            String name = text(prog, "name");
            long ns = number(prog, "run_time_ns");
            long runs = number(prog, "run_cnt");
            Program had = out.get(name);
            out.put(name, had == null ? new Program(name, ns, runs)
                    : new Program(name, had.runTimeNs() + ns, had.runs() + runs));
        }
        return out;
    }

    /**
     * Reads {@link #of} every 500 ms on a thread of its own while a run goes on and keeps the
     * last reading that found programs: the process's programs go with it, so the last reading
     * before its end stands for the run (ns per run is an average either way).
     */
    static final class Sampler implements AutoCloseable {
        private final Thread thread;
        private volatile Map<String, Program> last = Map.of();
        private volatile boolean stop;

        Sampler(long pid) {
            thread = new Thread(() -> {
                while (!stop) {
                    try {
                        Map<String, Program> now = of(pid);
                        if (!now.isEmpty()) {
                            last = now;
                        }
                        Thread.sleep(500);
                    } catch (IOException e) {
                        return;
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            }, "bench-bpf-stats");
            thread.setDaemon(true);
            thread.start();
        }

        /** A last reading now (the programs are still there), then stop. */
        Map<String, Program> finish(long pid) throws IOException, InterruptedException {
            Map<String, Program> now = of(pid);
            close();
            return now.isEmpty() ? last : now;
        }

        Map<String, Program> last() {
            return last;
        }

        @Override
        public void close() {
            stop = true;
            thread.interrupt();
            try {
                thread.join(5000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /** "name ns/run (runs)" for each program with runs, e.g. {@code ssl_call_enter 312 ns × 40,000}. */
    static String describe(Map<String, Program> programs) {
        List<String> parts = new ArrayList<>();
        for (Program p : programs.values()) {
            if (p.runs() > 0) {
                parts.add(String.format(Locale.ROOT, "`%s` %.0f ns × %,d", p.name(), p.nsPerRun(), p.runs()));
            }
        }
        return parts.isEmpty() ? "–" : String.join("; ", parts);
    }

    /** The top-level objects of bpftool's JSON array, as text. */
    private static List<String> objects(String json) {
        List<String> out = new ArrayList<>();
        int depth = 0;
        int start = -1;
        boolean inString = false;
        for (int i = 0; i < json.length(); i++) {
            char c = json.charAt(i);
            if (inString) {
                if (c == '\\') {
                    i++;
                } else if (c == '"') {
                    inString = false;
                }
            } else if (c == '"') {
                inString = true;
            } else if (c == '{') {
                if (depth++ == 0) {
                    start = i;
                }
            } else if (c == '}' && --depth == 0) {
                out.add(json.substring(start, i + 1));
            }
        }
        return out;
    }

    private static String text(String obj, String key) {
        Matcher m = Pattern.compile("\"" + key + "\":\"([^\"]*)\"").matcher(obj);
        return m.find() ? m.group(1) : "?";
    }

    private static long number(String obj, String key) {
        Matcher m = Pattern.compile("\"" + key + "\":(\\d+)").matcher(obj);
        return m.find() ? Long.parseLong(m.group(1)) : 0;
    }
}
