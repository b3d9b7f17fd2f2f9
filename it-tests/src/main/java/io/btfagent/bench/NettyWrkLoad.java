package io.btfagent.bench;

import io.btfagent.bpf.BpfObject;
import io.btfagent.bpf.UprobeLink;
import io.btfagent.bpf.internal.Libbpf;
import io.btfagent.bpf.internal.LibbpfMulti;
import io.btfagent.tls.TlsLibrary;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The benchmark's small messages at a high rate: a netty HTTPS server on netty-tcnative's
 * BoringSSL ({@code io.btfagent.netty.KeepAliveHttpsServer}, 100 B responses) in a JVM of its own, driven by
 * {@code wrk} from outside the JVM over keep-alive connections, compared by requests per second.
 * Configurations, one fresh server JVM each, interleaved: no agent; the kernel's probes alone
 * where the agent puts them for BoringSSL ({@code bench_floor}'s counting programs as an entry
 * uprobe and a uretprobe on each function the agent hooks, at the file offsets of BoringSSL's
 * local symbols that {@link TlsLibrary#boringssl} finds; the agent's own SSL_free probe, one hit
 * per connection, is left out); the agent with no sink; the agent with the jsonl sink.
 *
 * <p>Then runs that are not timed: each probed configuration once more with the kernel's BPF
 * run-time statistics on ({@link BpfRunTime}), and the jsonl one also under async-profiler
 * ({@link ProfileWindow}, {@link ProfileTable}).
 *
 * <p>{@code NettyWrkLoad <java> <server classpath> <agent jar> <work dir> <table file> <cert>
 * <key>}; settings: {@code bench.wrk.reps} (interleaved rounds, 3), {@code bench.wrk.seconds}
 * (measured per run, 10), {@code bench.wrk.warmup} (s, 3), {@code bench.wrk.connections} (32),
 * {@code bench.wrk.threads} (wrk's, 2), {@code bench.wrk.server-threads} (event loops, 2),
 * {@code bench.libbpf}, {@code bench.floor.object} (required), {@code bench.profile.lib} and
 * {@code bench.profile.jar} (async-profiler; without them no profile), {@code bench.profile.dir}
 * (where the flame graph and collapsed stacks go), {@code bench.wrk.extra} (false: only the
 * timed runs).
 */
public final class NettyWrkLoad {
    private static final String WRK = "/usr/bin/wrk";
    /** Named, not referenced: this JVM has no netty on its class path. */
    private static final String SERVER = "io.btfagent.netty.KeepAliveHttpsServer";
    private static final String KERNEL_BTF = "/sys/kernel/btf/vmlinux";
    private static final Pattern RATE = Pattern.compile("Requests/sec:\\s+([0-9.]+)");
    private static final Pattern STATS = Pattern.compile("capture stats (\\{.*\\})");
    /** USER_HZ, the unit of /proc/<pid>/stat's times (100 on Linux/x86_64). */
    private static final double TICKS = 100;

    private enum Kind { NONE, FLOOR, AGENT }

    private record Config(String name, Kind kind, String agentArgs, String what) {
    }

    /** What one server run measured. */
    private record Run(double perSecond, long requests, long totalRequests, long cpuTicks, long[] floorHits,
            String stats, String wrkErrors, Map<String, BpfRunTime.Program> programs) {
    }

    private final String java;
    private final String classpath;
    private final Path agentJar;
    private final Path work;
    private final String cert;
    private final String key;
    private final byte[] floorObject;
    private final int seconds = Integer.getInteger("bench.wrk.seconds", 10);
    private final int warmup = Integer.getInteger("bench.wrk.warmup", 3);
    private final int connections = Integer.getInteger("bench.wrk.connections", 32);
    private final int wrkThreads = Integer.getInteger("bench.wrk.threads", 2);
    private final int serverThreads = Integer.getInteger("bench.wrk.server-threads", 2);
    /** The functions the probes went on, as the floor found them (for the table). */
    private volatile String probed = "";

    private NettyWrkLoad(String[] args) throws IOException {
        java = args[0];
        classpath = args[1];
        agentJar = Path.of(args[2]);
        work = Path.of(args[3]);
        cert = args[5];
        key = args[6];
        floorObject = Files.readAllBytes(Path.of(required("bench.floor.object")));
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 7) {
            System.err.println("usage: NettyWrkLoad <java> <server classpath> <agent jar> <work dir> <table file>"
                    + " <cert> <key>");
            System.exit(2);
        }
        String libbpf = required("bench.libbpf");
        Libbpf.bind(libbpf);
        if (!LibbpfMulti.bind(libbpf)) {
            throw new IllegalStateException("this libbpf has no uprobe_multi");
        }
        new NettyWrkLoad(args).compare(Path.of(args[4]), libbpf);
    }

    private void compare(Path table, String libbpf) throws Exception {
        int reps = Integer.getInteger("bench.wrk.reps", 3);
        Path jsonl = work.resolve("wrk-events.jsonl");
        List<Config> configs = List.of(
                new Config("none", Kind.NONE, null, "no agent, no probes"),
                new Config("probes", Kind.FLOOR, null, "the kernel's probes alone at the agent's placement"),
                new Config("agent-nosink", Kind.AGENT, "sinks=", "the agent, no sink (`sinks=`)"),
                new Config("agent-jsonl", Kind.AGENT, "sinks=jsonl,sink.jsonl.path=" + jsonl,
                        "the agent, jsonl sink to a file"));
        Map<String, List<Run>> results = new LinkedHashMap<>();
        configs.forEach(c -> results.put(c.name(), new ArrayList<>()));
        for (int r = 0; r < reps; r++) {
            for (Config c : configs) {
                Run run = run(c, seconds, false, null);
                results.get(c.name()).add(run);
                Files.deleteIfExists(jsonl);
                System.err.printf(Locale.ROOT, "wrk: round %d of %d: %s %.0f requests/s%n", r + 1, reps, c.name(),
                        run.perSecond());
            }
        }
        Map<String, Map<String, BpfRunTime.Program>> programs = new LinkedHashMap<>();
        String profile = "";
        String profileLib = System.getProperty("bench.profile.lib");
        if (Boolean.parseBoolean(System.getProperty("bench.wrk.extra", "true")) && BpfRunTime.available()) {
            int statsSeconds = Integer.getInteger("bench.wrk.stats-seconds", 5);
            Run profiledNone = null;
            Run profiledAgent = null;
            for (Config c : configs) {
                boolean profiled = profileLib != null && (c.kind() == Kind.NONE || c.name().equals("agent-jsonl"));
                if (c.kind() == Kind.NONE) {
                    if (profiled) {
                        profiledNone = run(c, seconds, false, profileLib);
                    }
                    continue;
                }
                try (AutoCloseable stats = BpfRunTime.enable(libbpf)) {
                    Run run = run(c, profiled ? seconds : statsSeconds, true, profiled ? profileLib : null);
                    programs.put(c.name(), run.programs());
                    if (profiled) {
                        profiledAgent = run;
                    }
                }
                Files.deleteIfExists(jsonl);
            }
            if (profiledNone != null && profiledAgent != null) {
                Path dir = Path.of(System.getProperty("bench.profile.dir", work.toString()));
                profile = ProfileTable.markdown("netty + wrk, the agent with the jsonl sink",
                        ProfileTable.read(dir.resolve("bench-profile-netty-none.collapsed")),
                        ProfileTable.read(dir.resolve("bench-profile-netty.collapsed")), seconds,
                        new long[] {profiledNone.requests(), profiledAgent.requests()}, String.format(Locale.ROOT,
                                "Flame graphs: `it-tests/target/bench-profile-netty.html` (agent) and"
                                        + " `bench-profile-netty-none.html` (no agent), collapsed stacks beside them"
                                        + " (`.collapsed`); async-profiler 4.1, event=cpu every 1 ms over the measured"
                                        + " %d s of one more run each way (%.0f requests/s without the agent, %.0f"
                                        + " with; BPF run-time statistics on in the latter).", seconds,
                                profiledNone.perSecond(), profiledAgent.perSecond()));
            }
        }
        String md = markdown(configs, results, programs, reps) + profile;
        System.out.print(md);
        Files.writeString(table, md, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    }

    private String markdown(List<Config> configs, Map<String, List<Run>> results,
            Map<String, Map<String, BpfRunTime.Program>> programs, int reps) {
        double none = median(results.get("none"));
        double probes = median(results.get("probes"));
        StringBuilder b = new StringBuilder();
        b.append(String.format(Locale.ROOT, "%n| netty-tcnative (BoringSSL) HTTPS, 100 B responses, wrk -t%d -c%d"
                + " keep-alive, %d s × %d interleaved rounds, %d event loops | requests/s (median) | cost"
                + " = 1 − config ÷ none | × probes-alone cost = cost ÷ cost of `probes` | probe hits per request"
                + " (entries) | of which transferred nothing (returned ≤ 0) | calls with data per request"
                + " (agent's calls counter) | BPF ns per run (statistics on, untimed run) | server JVM CPU µs per"
                + " request (median) | × probes-alone CPU = (config − none) ÷ (probes − none) |%n"
                + "|---|---|---|---|---|---|---|---|---|---|%n", wrkThreads, connections, seconds, reps,
                serverThreads));
        double probesCost = 1 - probes / none;
        double cpuNone = cpuPerRequest(results.get("none"));
        double cpuProbes = cpuPerRequest(results.get("probes"));
        for (Config c : configs) {
            List<Run> runs = results.get(c.name());
            double m = median(runs);
            double cost = 1 - m / none;
            Run last = runs.get(runs.size() - 1);
            String hits = "–";
            String nothing = "–";
            if (c.kind() == Kind.FLOOR) {
                long requests = runs.stream().mapToLong(Run::requests).sum();
                long entries = runs.stream().mapToLong(r -> r.floorHits()[0]).sum();
                long empty = runs.stream().mapToLong(r -> r.floorHits()[2]).sum();
                hits = String.format(Locale.ROOT, "%.2f", (double) entries / requests);
                nothing = String.format(Locale.ROOT, "%.2f (%.0f %%)", (double) empty / requests,
                        100.0 * empty / Math.max(1, runs.stream().mapToLong(r -> r.floorHits()[1]).sum()));
            }
            String data = "–";
            if (c.kind() == Kind.AGENT) {
                long calls = runs.stream().mapToLong(r -> counter(r.stats(), "calls")).sum();
                long requests = runs.stream().mapToLong(Run::totalRequests).sum();
                data = String.format(Locale.ROOT, "%.2f", (double) calls / requests);
            }
            String lost = c.kind() == Kind.AGENT ? RealStackLoad.lost(last.stats()) : "";
            String errors = runs.stream().map(Run::wrkErrors).filter(s -> !s.isEmpty()).findFirst().orElse("");
            String what = c.kind() == Kind.FLOOR ? c.what() + " (bench_floor's counting programs, an entry uprobe and a"
                    + " uretprobe on " + probed + " at the file offsets the agent uses; its SSL_free probe left out)"
                    : c.what();
            b.append("| ").append(what).append(lost.isEmpty() ? "" : " (last run lost: " + lost + ")")
                    .append(errors.isEmpty() ? "" : " (wrk: " + errors + ")").append(" | ")
                    .append(String.format(Locale.ROOT, "%.0f", m)).append(" | ")
                    .append(c.kind() == Kind.NONE ? "–" : String.format(Locale.ROOT, "%.1f %%", 100 * cost))
                    .append(" | ")
                    .append(c.kind() == Kind.NONE ? "–" : String.format(Locale.ROOT, "%.2f", cost / probesCost))
                    .append(" | ").append(hits).append(" | ").append(nothing).append(" | ").append(data).append(" | ")
                    .append(programs.containsKey(c.name()) ? BpfRunTime.describe(programs.get(c.name())) : "–")
                    .append(" | ").append(String.format(Locale.ROOT, "%.1f", cpuPerRequest(runs))).append(" | ")
                    .append(c.kind() == Kind.NONE ? "–" : String.format(Locale.ROOT, "%.2f",
                            (cpuPerRequest(runs) - cpuNone) / (cpuProbes - cpuNone)))
                    .append(" |\n");
        }
        return b.toString();
    }

    /**
     * One server JVM: started, probed as {@code c} says, warmed up with wrk, measured with wrk for
     * {@code secs}, stopped. With {@code sample}, the BPF programs' statistics are read meanwhile;
     * with {@code profileLib}, async-profiler samples the measured part.
     */
    private Run run(Config c, int secs, boolean sample, String profileLib) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(java));
        String cp = classpath;
        if (c.kind() == Kind.AGENT) {
            cmd.add("-javaagent:" + agentJar + "=" + c.agentArgs());
        }
        Path dir = Path.of(System.getProperty("bench.profile.dir", work.toString()));
        if (profileLib != null) {
            cmd.add("-agentpath:" + profileLib);
            cmd.add("-Dbench.profile.lib=" + profileLib);
            cmd.add("-Dbench.profile.out=" + dir.resolve(c.kind() == Kind.NONE ? "bench-profile-netty-none"
                    : "bench-profile-netty"));
            cmd.add("-Dbench.profile.title=netty-tcnative HTTPS under wrk, " + c.what());
            cp = cp + ":" + required("bench.profile.jar");
        }
        cmd.add("-Djava.io.tmpdir=" + work);
        cmd.addAll(List.of("-cp", cp, SERVER, cert, key,
                String.valueOf(serverThreads)));
        Path err = work.resolve("wrk-server.err");
        Process p = new ProcessBuilder(cmd).redirectError(err.toFile()).start();
        BpfObject floor = null;
        BpfRunTime.Sampler sampler = null;
        try {
            BlockingQueue<String> lines = new LinkedBlockingQueue<>();
            Thread reader = new Thread(() -> {
                try (BufferedReader in = new BufferedReader(new InputStreamReader(p.getInputStream(),
                        StandardCharsets.UTF_8))) {
                    for (String l; (l = in.readLine()) != null;) {
                        lines.add(l);
                    }
                } catch (IOException e) {
                    // the server is gone; waitFor says how
                }
            }, "bench-server-stdout");
            reader.setDaemon(true);
            reader.start();
            String first = lines.poll(120, TimeUnit.SECONDS);
            if (first == null || !first.startsWith("port ")) {
                throw new IOException(c.name() + ": the server did not start (" + first + "): " + Files.readString(err));
            }
            int port = Integer.parseInt(first.substring(5).trim());
            if (c.kind() == Kind.AGENT) {
                awaitStderr(p, err, c.name(), "hooked boringssl", "capture ready");
            } else if (c.kind() == Kind.FLOOR) {
                floor = attachFloor((int) p.pid());
            }
            if (sample) {
                sampler = new BpfRunTime.Sampler(c.kind() == Kind.FLOOR ? ProcessHandle.current().pid() : p.pid());
            }
            wrk(port, warmup);
            long[] hits0 = floor == null ? new long[3] : floor.readPerCpuCounters("hits", 3);
            long requests0 = requests(p, lines);
            OutputStream control = p.getOutputStream();
            if (profileLib != null) {
                control.write("profile start\n".getBytes(StandardCharsets.UTF_8));
                control.flush();
            }
            long cpu0 = cpuTicks(p.pid());
            String out = wrk(port, secs);
            long cpu = cpuTicks(p.pid()) - cpu0;
            if (profileLib != null) {
                control.write("profile stop\n".getBytes(StandardCharsets.UTF_8));
                control.flush();
            }
            long total = requests(p, lines);
            long requests = total - requests0;
            long[] hits = new long[3];
            if (floor != null) {
                long[] hits1 = floor.readPerCpuCounters("hits", 3);
                for (int i = 0; i < 3; i++) {
                    hits[i] = hits1[i] - hits0[i];
                }
            }
            Map<String, BpfRunTime.Program> programs = sampler == null ? Map.of()
                    : sampler.finish(c.kind() == Kind.FLOOR ? ProcessHandle.current().pid() : p.pid());
            sampler = null;
            Matcher m = RATE.matcher(out);
            if (!m.find()) {
                throw new IOException("wrk printed no rate: " + out);
            }
            control.close();
            if (!p.waitFor(60, TimeUnit.SECONDS)) {
                throw new IOException(c.name() + ": the server did not stop");
            }
            String stderr = Files.readString(err);
            if (p.exitValue() != 0) {
                throw new IOException(c.name() + ": the server failed (exit " + p.exitValue() + "): " + stderr);
            }
            String stats = null;
            Matcher s = STATS.matcher(stderr);
            while (s.find()) {
                stats = s.group(1);
            }
            if (c.kind() == Kind.AGENT && stats == null) {
                throw new IOException(c.name() + ": the agent printed no capture stats: " + stderr);
            }
            return new Run(Double.parseDouble(m.group(1)), requests, total, cpu, hits, stats, wrkErrors(out), programs);
        } finally {
            if (sampler != null) {
                sampler.close();
            }
            if (p.isAlive()) {
                p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
            if (floor != null) {
                detach(floor);
            }
        }
    }

    /** The answered-requests counter of the server. */
    private static long requests(Process p, BlockingQueue<String> lines) throws Exception {
        p.getOutputStream().write("requests\n".getBytes(StandardCharsets.UTF_8));
        p.getOutputStream().flush();
        for (;;) {
            String l = lines.poll(30, TimeUnit.SECONDS);
            if (l == null) {
                throw new IOException("the server did not say its requests");
            }
            if (l.startsWith("requests ")) {
                return Long.parseLong(l.substring(9).trim());
            }
        }
    }

    private String wrk(int port, int secs) throws Exception {
        Process w = new ProcessBuilder(WRK, "-t" + wrkThreads, "-c" + connections, "-d" + secs + "s",
                "https://127.0.0.1:" + port + "/").redirectErrorStream(true).start();
        String out = new String(w.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!w.waitFor(secs + 60L, TimeUnit.SECONDS) || w.exitValue() != 0) {
            w.destroyForcibly();
            throw new IOException("wrk failed: " + out);
        }
        return out;
    }

    /** wrk's error lines (socket errors, non-2xx answers), empty when none. */
    private static String wrkErrors(String out) {
        List<String> e = new ArrayList<>();
        for (String l : out.lines().toList()) {
            if (l.contains("Socket errors") || l.contains("Non-2xx")) {
                e.add(l.trim());
            }
        }
        return String.join("; ", e);
    }

    private static void awaitStderr(Process p, Path err, String name, String... all) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        for (;;) {
            String s = Files.readString(err);
            boolean ok = true;
            for (String a : all) {
                ok &= s.contains(a);
            }
            if (ok) {
                return;
            }
            if (!p.isAlive() || System.nanoTime() > deadline) {
                throw new IOException(name + ": the agent did not hook BoringSSL: " + s);
            }
            Thread.sleep(20);
        }
    }

    /**
     * The counting programs at the agent's sites for netty-tcnative's BoringSSL in {@code pid}:
     * an entry uprobe and a uretprobe at each hooked function's file offset, through the
     * process's {@code /proc/<pid>/map_files} link (netty deletes the file once loaded).
     */
    private BpfObject attachFloor(int pid) throws Exception {
        Path lib = tcnative(pid);
        TlsLibrary boring = TlsLibrary.boringssl(lib);
        probed = String.join("/", boring.functions());
        long[] offsets = boring.offsets().stream().mapToLong(Long::longValue).toArray();
        BpfObject obj = BpfObject.open("bench_floor", floorObject, KERNEL_BTF);
        try {
            obj.useUprobeMulti("floor_enter");
            obj.useUprobeMulti("floor_exit");
            obj.load();
            obj.attachUprobeMultiAt("floor_enter", pid, lib.toString(), offsets, new long[offsets.length], false,
                    String.join(",", boring.functions()));
            obj.attachUprobeMultiAt("floor_exit", pid, lib.toString(), offsets, new long[offsets.length], true,
                    String.join(",", boring.functions()));
            return obj;
        } catch (Exception e) {
            obj.close();
            throw e;
        }
    }

    /** The map_files link of netty-tcnative's executable mapping in {@code pid}. */
    private static Path tcnative(int pid) throws IOException {
        for (String l : Files.readAllLines(Path.of("/proc/" + pid + "/maps"))) {
            String[] f = l.trim().split("\\s+", 6);
            if (f.length == 6 && f[1].contains("x") && f[5].contains("netty_tcnative")) {
                return Path.of("/proc/" + pid + "/map_files/" + f[0]);
            }
        }
        throw new IOException("no netty-tcnative mapping in process " + pid);
    }

    private static void detach(BpfObject obj) throws InterruptedException {
        for (UprobeLink l : obj.links()) {
            l.close();
        }
        obj.close();
    }

    /** A kernel counter of the stats JSON, 0 if absent. */
    private static long counter(String stats, String key) {
        if (stats == null) {
            return 0;
        }
        Matcher m = Pattern.compile("\"" + key + "\":(\\d+)").matcher(stats);
        return m.find() ? Long.parseLong(m.group(1)) : 0;
    }

    /** The median over runs of the server JVM's CPU time (user + system) per request measured, µs. */
    private static double cpuPerRequest(List<Run> runs) {
        return RealStackLoad.median(runs.stream().mapToDouble(r -> r.cpuTicks() * 1e6 / TICKS / Math.max(1,
                r.requests())).toArray());
    }

    /** utime + stime of a process, in clock ticks (/proc/<pid>/stat, fields 14 and 15). */
    private static long cpuTicks(long pid) throws IOException {
        String stat = Files.readString(Path.of("/proc/" + pid + "/stat"));
        // the fields after the command name, which may hold spaces: state is field 3
        String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
        return Long.parseLong(f[11]) + Long.parseLong(f[12]);
    }

    private static double median(List<Run> runs) {
        return RealStackLoad.median(runs.stream().mapToDouble(Run::perSecond).toArray());
    }

    private static String required(String name) {
        String v = System.getProperty(name);
        if (v == null || v.isBlank()) {
            throw new IllegalArgumentException("missing -D" + name);
        }
        return v;
    }
}
