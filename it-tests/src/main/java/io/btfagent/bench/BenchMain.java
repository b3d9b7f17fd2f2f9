package io.btfagent.bench;

import io.btfagent.bpf.BpfObject;
import io.btfagent.bpf.UprobeLink;
import io.btfagent.bpf.internal.Libbpf;
import io.btfagent.bpf.internal.LibbpfMulti;
import io.btfagent.tls.ProbeSites;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Per-call cost of SSL_write and SSL_read in a JVM, side by side in one run: without probes,
 * under a counting-only uprobe + uretprobe ({@code bench_floor.bpf.c}, the floor any capture
 * pays), and under the agent. Each configuration is a fresh {@link SslCallBench} JVM; the
 * configurations are interleaved, one JVM each per repetition, so drift of a shared machine
 * spreads over all of them. The floor is loaded with the agent's own classes (BpfObject, the
 * bundled libbpf) and attached to the child's pid on the same four functions the agent
 * probes, as single uprobes or as uprobe_multi links, like the agent's attach.mode.
 *
 * <p>Settings (system properties): {@code bench.child.classpath}, {@code bench.agent.jar},
 * {@code bench.floor.object}, {@code bench.libbpf}, {@code bench.cert}, {@code bench.key},
 * {@code bench.work} (required); {@code bench.libssl}, {@code bench.libcrypto}, {@code
 * bench.reps} (5), {@code bench.blocks} (5), {@code bench.sizes} ({@code 64:4000,16384:1000},
 * size:iterations per block), {@code bench.configs} (all), {@code bench.jsonl} (the jsonl
 * sink's file, {@code bench-events.jsonl} in {@code bench.work}, deleted after each run), {@code bench.java} (this JVM's java).
 */
public final class BenchMain {
    private static final List<String> FUNCTIONS = List.of("SSL_read", "SSL_read_ex", "SSL_write", "SSL_write_ex");
    private static final String KERNEL_BTF = "/sys/kernel/btf/vmlinux";
    private static final long TIMEOUT_S = 120;
    private static final String BPFTRACE = "/usr/bin/bpftrace";
    private static final int BPFTRACE_STRLEN = 200;
    /** agentArgs of a floor configuration whose probes go where ProbePlacement puts the agent's. */
    private static final String PLACED = "placed";

    private enum Kind { NONE, FLOOR, AGENT, BPFTRACE }

    /** One column of the comparison; {@code floor} is the floor an agent row is divided by. */
    private record Config(String name, Kind kind, boolean multi, String agentArgs, String floor, String what) {
    }

    /**
     * What one child JVM measured: per size, per block {write ns, read ns}; the calls made;
     * bytes every thread allocated meanwhile; resident memory at the end; events the
     * configuration reported (-1 if it does not say) and lost.
     */
    private record Run(Map<Integer, List<double[]>> blocks, long calls, String check, long allocated,
            long agentAllocated, long warmupCalls, long rssKib, long events, long lost,
            Map<String, BpfRunTime.Program> programs) {
    }

    private static final Set<Process> CHILDREN = ConcurrentHashMap.newKeySet();

    private BenchMain() {
    }

    public static void main(String[] args) throws Exception {
        String java = System.getProperty("bench.java",
                ProcessHandle.current().info().command().orElse("java"));
        String childClasspath = required("bench.child.classpath");
        String agentJar = required("bench.agent.jar");
        byte[] floorObject = Files.readAllBytes(Path.of(required("bench.floor.object")));
        String libbpf = Path.of(required("bench.libbpf")).toAbsolutePath().toString();
        String cert = required("bench.cert");
        String key = required("bench.key");
        Path work = Path.of(required("bench.work"));
        String libssl = Path.of(System.getProperty("bench.libssl", "/usr/lib/x86_64-linux-gnu/libssl.so.3"))
                .toRealPath().toString();
        String libcrypto = System.getProperty("bench.libcrypto", "/usr/lib/x86_64-linux-gnu/libcrypto.so.3");
        int reps = Integer.parseInt(System.getProperty("bench.reps", "5"));
        int blocks = Integer.parseInt(System.getProperty("bench.blocks", "5"));
        List<String> sizes = List.of(System.getProperty("bench.sizes", "64:4000,16384:1000").split(","));
        // a real file: the sink refuses devices such as /dev/null (see SafeFile); deleted after each run
        String jsonl = System.getProperty("bench.jsonl", work.resolve("bench-events.jsonl").toString());

        Libbpf.bind(libbpf);
        boolean multiAvailable = LibbpfMulti.bind(libbpf);
        Runtime.getRuntime().addShutdownHook(new Thread(() -> CHILDREN.forEach(Process::destroyForcibly)));

        String common = "libraries=openssl,log.level=info";
        List<Config> all = List.of(
                new Config("none", Kind.NONE, false, null, null, "no agent, no probes"),
                new Config("floor-single", Kind.FLOOR, false, null, null, "counting uprobe+uretprobe, 8 single links"),
                new Config("floor-multi", Kind.FLOOR, true, null, null, "counting uprobe+uretprobe, 2 uprobe_multi links"),
                new Config("floor-placed", Kind.FLOOR, true, PLACED, null, "the same counting programs where the agent"
                        + " puts its probes (probe.placement=emulated): the kernel's cost of the placement alone"),
                new Config("agent-single", Kind.AGENT, false, common + ",attach.mode=single,sinks=", "floor-single",
                        "agent, attach.mode=single, no sink (events decoded and counted)"),
                new Config("agent-multi", Kind.AGENT, true, common + ",attach.mode=multi,sinks=", "floor-multi",
                        "agent, attach.mode=multi, no sink (events decoded and counted)"),
                new Config("agent-entry", Kind.AGENT, true, common + ",attach.mode=multi,probe.placement=entry,sinks=",
                        "floor-multi", "agent, attach.mode=multi, probe.placement=entry (every probe on the function's"
                                + " first instruction), no sink"),
                new Config("agent-jsonl", Kind.AGENT, true,
                        common + ",attach.mode=multi,sinks=jsonl,sink.jsonl.path=" + jsonl, "floor-multi",
                        "agent, attach.mode=multi, sinks=jsonl to " + jsonl),
                new Config("bpftrace", Kind.BPFTRACE, false, null, "floor-multi",
                        "bpftrace -p: uprobe+uretprobe on SSL_write/SSL_read printing each call's bytes (%r, at most "
                                + BPFTRACE_STRLEN + " B: bpftrace's string limit) to a file"));
        List<String> wanted = List.of(System.getProperty("bench.configs",
                "none,floor-multi,floor-placed,agent-multi,agent-entry,agent-jsonl,bpftrace").split(","));
        List<Config> configs = all.stream().filter(c -> wanted.contains(c.name()))
                .filter(c -> multiAvailable || !c.multi())
                .filter(c -> c.kind() != Kind.BPFTRACE || Files.isExecutable(Path.of(BPFTRACE))).toList();

        List<String> cmdTail = new ArrayList<>(List.of("-cp", childClasspath, SslCallBench.class.getName(), libssl,
                libcrypto, cert, key, Integer.toString(blocks)));
        cmdTail.addAll(sizes);

        Map<String, List<Run>> results = new LinkedHashMap<>();
        configs.forEach(c -> results.put(c.name(), new ArrayList<>()));
        long start = System.nanoTime();
        for (int r = 0; r < reps; r++) {
            for (Config c : configs) {
                Path err = work.resolve(c.name() + "-" + r + ".err");
                List<String> cmd = new ArrayList<>();
                cmd.add(java);
                if (c.kind() == Kind.AGENT) {
                    cmd.add("-javaagent:" + agentJar + "=" + c.agentArgs());
                }
                cmd.addAll(cmdTail);
                results.get(c.name()).add(runChild(c, cmd, err, floorObject, libssl, false));
                Files.deleteIfExists(Path.of(jsonl)); // only the cost of writing it is of interest
            }
        }
        // the BPF programs' own run time: one more run of each probed configuration with the
        // kernel's run-time statistics on, not timed (the statistics cost each program run)
        Map<String, Map<String, BpfRunTime.Program>> programs = new LinkedHashMap<>();
        if (Boolean.parseBoolean(System.getProperty("bench.bpf-stats", "true")) && BpfRunTime.available()) {
            for (Config c : configs) {
                if (!List.of("floor-placed", "agent-multi", "agent-jsonl").contains(c.name())) {
                    continue;
                }
                List<String> cmd = new ArrayList<>();
                cmd.add(java);
                if (c.kind() == Kind.AGENT) {
                    cmd.add("-javaagent:" + agentJar + "=" + c.agentArgs());
                }
                cmd.addAll(cmdTail);
                try (AutoCloseable stats = BpfRunTime.enable(libbpf)) {
                    programs.put(c.name(), runChild(c, cmd, work.resolve(c.name() + "-stats.err"), floorObject, libssl,
                            true).programs());
                }
                Files.deleteIfExists(Path.of(jsonl));
            }
        }
        Startup startup = Boolean.parseBoolean(System.getProperty("bench.startup", "true"))
                ? startup(java, System.getProperty("bench.startup.classpath", childClasspath), agentJar,
                        Path.of(required("bench.empty.agent")),
                        Integer.parseInt(System.getProperty("bench.startup.reps", "21")), work)
                : null;
        double[] reader = System.getProperty("bench.ring.object") == null ? null
                : RingReaderBench.measure(Files.readAllBytes(Path.of(System.getProperty("bench.ring.object"))),
                        KERNEL_BTF, 64, 64 << 20, 7);
        long seconds = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - start);
        String table = report(configs, results, sizes, reps, blocks, libssl, seconds, startup, reader)
                + bpfRunTime(configs, programs);
        String out = System.getProperty("bench.table");
        if (out != null) {
            Files.writeString(Path.of(out), table);
        }
    }

    /** Medians of the start-up runs, ms: main with an empty agent, with btf-agent; probes attached after JVM start. */
    private record Startup(double mainEmpty, double mainAgent, double attached, int reps, int attachedRuns) {
    }

    /**
     * {@code reps} interleaved pairs of JVMs running {@link MainProbe}, one with an empty
     * {@code -javaagent}, one with btf-agent (no sink, OpenSSL): the time from starting the
     * process to its {@code main} line, and when btf-agent said its probes were attached.
     */
    private static Startup startup(String java, String cp, String agentJar, Path emptyAgent, int reps, Path work)
            throws Exception {
        List<Double> empty = new ArrayList<>();
        List<Double> agent = new ArrayList<>();
        List<Double> attached = new ArrayList<>();
        Pattern hooked = Pattern.compile("hooked openssl .* (\\d+) ms after JVM start");
        for (int r = 0; r < reps; r++) {
            for (boolean withAgent : new boolean[] {false, true}) {
                Path err = work.resolve("startup-" + r + "-" + withAgent + ".err");
                List<String> cmd = List.of(java, withAgent ? "-javaagent:" + agentJar + "=sinks=,libraries=openssl"
                        : "-javaagent:" + emptyAgent, "-cp", cp, MainProbe.class.getName());
                long t0 = System.nanoTime();
                Process p = new ProcessBuilder(cmd).redirectError(err.toFile()).start();
                CHILDREN.add(p);
                try (BufferedReader in = new BufferedReader(new InputStreamReader(p.getInputStream(),
                        StandardCharsets.UTF_8))) {
                    String first = in.readLine();
                    double ms = (System.nanoTime() - t0) / 1e6;
                    if (!"main".equals(first)) {
                        throw new IllegalStateException("start-up probe printed " + first + ": " + tail(err));
                    }
                    (withAgent ? agent : empty).add(ms);
                    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
                    while (withAgent && !hooked.matcher(Files.readString(err)).find() && p.isAlive()
                            && System.nanoTime() < deadline) {
                        Thread.sleep(10);
                    }
                    p.getOutputStream().close();
                    if (!p.waitFor(TIMEOUT_S, TimeUnit.SECONDS)) {
                        throw new IllegalStateException("start-up probe did not finish");
                    }
                } finally {
                    p.destroyForcibly();
                    CHILDREN.remove(p);
                }
                if (withAgent) {
                    Matcher m = hooked.matcher(Files.readString(err));
                    if (m.find()) {
                        attached.add(Double.parseDouble(m.group(1)));
                    }
                }
            }
        }
        return new Startup(medianOf(empty), medianOf(agent), attached.isEmpty() ? Double.NaN : medianOf(attached), reps,
                attached.size());
    }

    private static double medianOf(List<Double> v) {
        double[] a = v.stream().mapToDouble(Double::doubleValue).sorted().toArray();
        return a.length == 0 ? Double.NaN : a.length % 2 == 1 ? a[a.length / 2] : (a[a.length / 2 - 1] + a[a.length / 2]) / 2;
    }

    private static Run runChild(Config c, List<String> cmd, Path errFile, byte[] floorObject, String libssl,
            boolean sample) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectError(errFile.toFile()).start();
        CHILDREN.add(p);
        BpfObject floor = null;
        Process tracer = null;
        BpfRunTime.Sampler sampler = null;
        // the floor's programs are this JVM's, the agent's the child's
        long owner = c.kind() == Kind.FLOOR ? ProcessHandle.current().pid() : p.pid();
        try {
            BlockingQueue<String> lines = new LinkedBlockingQueue<>();
            List<String> all = new CopyOnWriteArrayList<>();
            Thread reader = new Thread(() -> {
                try (BufferedReader in = new BufferedReader(
                        new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
                    for (String l; (l = in.readLine()) != null;) {
                        all.add(l);
                        lines.add(l);
                    }
                } catch (IOException e) {
                    // the child is gone; waitFor reports it
                }
            }, "bench-child-stdout");
            reader.setDaemon(true);
            reader.start();
            String first = lines.poll(TIMEOUT_S, TimeUnit.SECONDS);
            if (!"ready".equals(first)) {
                throw new IllegalStateException(c.name() + ": child not ready (" + first + "): " + tail(errFile));
            }
            if (c.kind() == Kind.FLOOR) {
                floor = PLACED.equals(c.agentArgs()) ? attachFloorPlaced(floorObject, (int) p.pid(), libssl)
                        : attachFloor(c.multi(), floorObject, (int) p.pid(), libssl);
            } else if (c.kind() == Kind.BPFTRACE) {
                tracer = startBpftrace((int) p.pid(), libssl, errFile);
            } else if (c.kind() == Kind.AGENT) {
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(TIMEOUT_S);
                // hooked, and the agent's start-up done ("capture ready"): calls are timed in its
                // steady state, not while byte-buddy weaves on another thread
                String err = Files.readString(errFile);
                while (!(err.contains("hooked openssl") && err.contains("capture ready"))) {
                    if (!p.isAlive() || System.nanoTime() > deadline) {
                        throw new IllegalStateException(c.name() + ": the agent did not hook libssl: " + tail(errFile));
                    }
                    Thread.sleep(20);
                    err = Files.readString(errFile);
                }
            }
            if (sample) {
                sampler = new BpfRunTime.Sampler(owner);
            }
            try (OutputStream go = p.getOutputStream()) {
                go.write('\n');
            }
            if (!p.waitFor(TIMEOUT_S, TimeUnit.SECONDS)) {
                throw new IllegalStateException(c.name() + ": child did not finish");
            }
            Map<String, BpfRunTime.Program> programs = sampler == null ? Map.of() : sampler.finish(owner);
            reader.join(TimeUnit.SECONDS.toMillis(10));
            if (p.exitValue() != 0) {
                throw new IllegalStateException(c.name() + ": child exited " + p.exitValue() + ": " + tail(errFile));
            }
            Map<Integer, List<double[]>> blocks = new LinkedHashMap<>();
            long calls = -1;
            long allocated = -1;
            long agentAllocated = -1;
            long warmupCalls = 0;
            long rss = -1;
            for (String l : all) {
                String[] f = l.split(" ");
                if (f[0].equals("block")) {
                    blocks.computeIfAbsent(Integer.parseInt(f[1]), k -> new ArrayList<>())
                            .add(new double[] {Double.parseDouble(f[2]), Double.parseDouble(f[3])});
                } else if (f[0].equals("calls")) {
                    calls = Long.parseLong(f[1]);
                } else if (f[0].equals("allocated")) {
                    allocated = Long.parseLong(f[1]);
                } else if (f[0].equals("agent-allocated")) {
                    agentAllocated = Long.parseLong(f[1]);
                    warmupCalls = Long.parseLong(f[2]);
                } else if (f[0].equals("rss-kib")) {
                    rss = Long.parseLong(f[1]);
                }
            }
            long events = -1;
            long lost = -1;
            String check = "";
            if (floor != null) {
                long[] hits = floor.readPerCpuCounters("hits", 3);
                // every SSL_write and SSL_read after the go line: one entry and one return each
                check = "probe entries " + hits[0] + ", returns " + hits[1] + ", expected " + (2 * calls)
                        + (hits[0] == 2 * calls && hits[1] == 2 * calls ? " (ok)" : " (MISMATCH)");
            } else if (c.kind() == Kind.AGENT) {
                check = Files.readAllLines(errFile).stream().filter(l -> l.contains("capture summary"))
                        .map(l -> l.substring(l.indexOf("capture summary"))).findFirst()
                        .orElse("no capture summary");
                events = counter(check, "records=");
                lost = counter(check, "records lost (ring full)=") + sum(check, " dropped=") + sum(check, " failed=");
            } else if (c.kind() == Kind.BPFTRACE) {
                stopBpftrace(tracer);
                Path out = errFile.resolveSibling(errFile.getFileName() + ".bpftrace");
                long printed;
                try (java.util.stream.Stream<String> l = Files.lines(out, StandardCharsets.ISO_8859_1)) {
                    printed = l.filter(x -> !x.isEmpty() && Character.isDigit(x.charAt(0))).count();
                }
                String said = Files.readAllLines(out, StandardCharsets.ISO_8859_1).stream()
                        .filter(x -> x.startsWith("Lost ")).findFirst().orElse("");
                // every SSL_write and SSL_read after the go line prints one line
                events = printed;
                lost = Math.max(0, 2 * calls - printed);
                check = "lines printed " + printed + ", expected " + (2 * calls) + (said.isEmpty() ? "" : "; " + said);
                Files.deleteIfExists(out);
            }
            return new Run(blocks, calls, check, allocated, agentAllocated, warmupCalls, rss, events, lost, programs);
        } finally {
            if (sampler != null) {
                sampler.close();
            }
            if (p.isAlive()) {
                p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
            CHILDREN.remove(p);
            if (floor != null) {
                detach(floor);
            }
            if (tracer != null && tracer.isAlive()) {
                tracer.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        }
    }

    /** bpftrace on {@code pid}'s SSL_write/SSL_read, printing every call's bytes; returns once its probes are attached. */
    private static Process startBpftrace(int pid, String libssl, Path errFile) throws Exception {
        String script = "uprobe:" + libssl + ":SSL_write,uprobe:" + libssl + ":SSL_read { @buf[tid] = arg1; }\n"
                + "uretprobe:" + libssl + ":SSL_write,uretprobe:" + libssl + ":SSL_read /@buf[tid]/ {\n"
                + "  if ((int32)retval > 0) { printf(\"%d %r\\n\", tid, buf(@buf[tid], (int32)retval)); }\n"
                + "  delete(@buf[tid]);\n}\n"
                + "BEGIN { printf(\"ready\\n\"); }\n";
        Path file = errFile.resolveSibling(errFile.getFileName() + ".bt");
        Files.writeString(file, script);
        Path out = errFile.resolveSibling(errFile.getFileName() + ".bpftrace");
        ProcessBuilder pb = new ProcessBuilder(BPFTRACE, "-p", Integer.toString(pid), file.toString())
                .redirectErrorStream(true).redirectOutput(out.toFile());
        pb.environment().put("BPFTRACE_STRLEN", Integer.toString(BPFTRACE_STRLEN));
        Process t = pb.start();
        CHILDREN.add(t);
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(TIMEOUT_S);
        while (!Files.readString(out, StandardCharsets.ISO_8859_1).contains("ready")) {
            if (!t.isAlive() || System.nanoTime() > deadline) {
                throw new IllegalStateException("bpftrace did not start: " + Files.readString(out));
            }
            Thread.sleep(20);
        }
        return t;
    }

    /** SIGINT, as a user ends bpftrace; it prints what it lost and exits. */
    private static void stopBpftrace(Process t) throws Exception {
        new ProcessBuilder("kill", "-INT", Long.toString(t.pid())).start().waitFor();
        if (!t.waitFor(30, TimeUnit.SECONDS)) {
            t.destroyForcibly();
        }
        CHILDREN.remove(t);
    }

    /** The number after {@code key} in a summary line, 0 if absent. */
    private static long counter(String line, String key) {
        int i = line.indexOf(key);
        if (i < 0) {
            return 0;
        }
        int j = i + key.length();
        int k = j;
        while (k < line.length() && Character.isDigit(line.charAt(k))) {
            k++;
        }
        return k == j ? 0 : Long.parseLong(line.substring(j, k));
    }

    /** The sum of the numbers after every {@code key} in a summary line. */
    private static long sum(String line, String key) {
        long total = 0;
        for (int i = line.indexOf(key); i >= 0; i = line.indexOf(key, i + 1)) {
            total += counter(line.substring(i), key);
        }
        return total;
    }

    /** The counting program on FUNCTIONS of {@code libssl}, for {@code pid} only. */
    private static BpfObject attachFloor(boolean multi, byte[] object, int pid, String libssl) throws Exception {
        // nothing in it needs CO-RE: the kernel's BTF is as good as any
        BpfObject obj = BpfObject.open("bench_floor", object, KERNEL_BTF);
        try {
            if (multi) {
                obj.useUprobeMulti("floor_enter");
                obj.useUprobeMulti("floor_exit");
            }
            obj.load();
            if (multi) {
                long[] cookies = new long[FUNCTIONS.size()];
                obj.attachUprobeMulti("floor_enter", pid, libssl, FUNCTIONS, cookies, false);
                obj.attachUprobeMulti("floor_exit", pid, libssl, FUNCTIONS, cookies, true);
            } else {
                for (String f : FUNCTIONS) {
                    obj.attachUprobe("floor_enter", pid, libssl, f, false, 0);
                    obj.attachUprobe("floor_exit", pid, libssl, f, true, 0);
                }
            }
            return obj;
        } catch (Exception e) {
            obj.close();
            throw e;
        }
    }

    /**
     * The counting programs at the sites {@link ProbeSites} chooses for the agent: entry
     * uprobes, uretprobes where the return side stays one, uprobes before returns otherwise.
     */
    private static BpfObject attachFloorPlaced(byte[] object, int pid, String libssl) throws Exception {
        ProbeSites sites = ProbeSites.plan(Path.of(libssl), FUNCTIONS, true);
        BpfObject obj = BpfObject.open("bench_floor", object, KERNEL_BTF);
        try {
            obj.useUprobeMulti("floor_enter");
            obj.useUprobeMulti("floor_exit");
            obj.load();
            attachSites(obj, "floor_enter", pid, libssl, sites.entries(), false);
            attachSites(obj, "floor_exit", pid, libssl, sites.returnProbes(), true);
            attachSites(obj, "floor_exit", pid, libssl, sites.exits(), false);
            return obj;
        } catch (Exception e) {
            obj.close();
            throw e;
        }
    }

    private static void attachSites(BpfObject obj, String program, int pid, String libssl, List<ProbeSites.Site> sites,
            boolean retprobe) throws Exception {
        if (!sites.isEmpty()) {
            obj.attachUprobeMultiAt(program, pid, libssl, sites.stream().mapToLong(ProbeSites.Site::fileOffset).toArray(),
                    new long[sites.size()], retprobe, sites.toString());
        }
    }

    /** Detaches in parallel (each single uprobe detach waits for a grace period), then frees. */
    private static void detach(BpfObject obj) throws InterruptedException {
        List<Thread> threads = new ArrayList<>();
        for (UprobeLink l : obj.links()) {
            Thread t = new Thread(l::close, "bench-detach");
            t.start();
            threads.add(t);
        }
        for (Thread t : threads) {
            t.join();
        }
        obj.close();
    }

    private static String report(List<Config> configs, Map<String, List<Run>> results, List<String> sizes, int reps,
            int blocks, String libssl, long seconds, Startup startup, double[] reader) throws IOException {
        System.out.printf(Locale.ROOT, "%nSSL_write / SSL_read per call, µs: median over %d JVM runs × %d blocks"
                + " (iterations per block: %s); kernel %s, %d CPUs, %s (%s); %d s%n",
                reps, blocks, String.join(", ", sizes), System.getProperty("os.version"),
                Runtime.getRuntime().availableProcessors(), libssl, cpuModel(), seconds);
        System.out.println("'+' = added over 'none'; 'x floor' = (config - none) / (floor - none), the agent's cost"
                + " in units of the bare uprobe+uretprobe; [..] = range of the per-run medians");
        System.out.println();
        String head = String.format(Locale.ROOT, "%-6s %-13s %-21s %-21s %8s %8s %9s %9s",
                "size", "config", "SSL_write", "SSL_read", "+write", "+read", "write", "read");
        System.out.println(String.format(Locale.ROOT, "%-6s %-13s %-21s %-21s %8s %8s %9s %9s",
                "", "", "", "", "", "", "x floor", "x floor"));
        System.out.println(head);
        for (String s : sizes) {
            int size = Integer.parseInt(s.split(":")[0]);
            double[] none = medians(results.get("none"), size);
            for (Config c : configs) {
                double[] m = medians(results.get(c.name()), size);
                double[][] range = runRange(results.get(c.name()), size);
                String plusW = "";
                String plusR = "";
                String xW = "";
                String xR = "";
                if (none != null && c.kind() != Kind.NONE) {
                    plusW = f2(m[0] - none[0]);
                    plusR = f2(m[1] - none[1]);
                    double[] fl = c.floor() == null ? null : medians(results.get(c.floor()), size);
                    if (fl != null) {
                        xW = String.format(Locale.ROOT, "%.2f", (m[0] - none[0]) / (fl[0] - none[0]));
                        xR = String.format(Locale.ROOT, "%.2f", (m[1] - none[1]) / (fl[1] - none[1]));
                    }
                }
                System.out.printf(Locale.ROOT, "%-6s %-13s %-21s %-21s %8s %8s %9s %9s%n", label(size), c.name(),
                        f2(m[0]) + " [" + f2(range[0][0]) + "-" + f2(range[0][1]) + "]",
                        f2(m[1]) + " [" + f2(range[1][0]) + "-" + f2(range[1][1]) + "]", plusW, plusR, xW, xR);
            }
        }
        System.out.println();
        for (Config c : configs) {
            System.out.printf("%-13s %s%n", c.name(), c.what());
        }
        System.out.println();
        System.out.println("checks (last run of each):");
        for (Config c : configs) {
            List<Run> runs = results.get(c.name());
            String check = runs.get(runs.size() - 1).check();
            if (!check.isEmpty()) {
                System.out.printf("%-13s %s%n", c.name(), check);
            }
        }
            String table = markdown(configs, results, sizes, reps, blocks, libssl, startup, reader);
        System.out.println();
        System.out.print(table);
        return table;
    }

    /** The BPF programs' ns per run beside the per-call rows, from the runs with statistics on. */
    private static String bpfRunTime(List<Config> configs, Map<String, Map<String, BpfRunTime.Program>> programs) {
        if (programs.isEmpty()) {
            return "";
        }
        StringBuilder b = new StringBuilder(String.format(Locale.ROOT, "%n| BPF programs' own run time per call site"
                + " (kernel.bpf_stats_enabled on, one more untimed run per configuration: run_time_ns ÷ run_cnt) |"
                + " ns per run × runs |%n|---|---|%n"));
        for (Config c : configs) {
            if (programs.containsKey(c.name())) {
                b.append("| ").append(c.name()).append(" | ").append(BpfRunTime.describe(programs.get(c.name())))
                        .append(" |\n");
            }
        }
        System.out.print(b);
        return b.toString();
    }

    /** The table docs/performance.md is made of. */
    private static String markdown(List<Config> configs, Map<String, List<Run>> results, List<String> sizes, int reps,
            int blocks, String libssl, Startup startup, double[] reader) {
        StringBuilder b = new StringBuilder();
        b.append(String.format(Locale.ROOT, "Kernel %s, %d CPUs (%s), %s; µs per call, medians of %d JVM runs × %d blocks;"
                + " \"× floor\" = (config − none) ÷ (floor − none); \"bpftrace ÷ agent\" = (bpftrace − none) ÷"
                + " (agent − none).%n%n", System.getProperty("os.version"), Runtime.getRuntime().availableProcessors(),
                cpuModel(), libssl, reps, blocks));
        b.append("| call | none | naive floor | floor, placed | × floor | agent, no sink | × floor |"
                + " agent, probes at entry | × floor | agent, jsonl | × floor | bpftrace | bpftrace ÷ agent |\n");
        b.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
        // the per-call aims, as ratios of whole calls: the agent's against the kernel's probes alone
        // where it places them, and the jsonl sink's against no sink
        StringBuilder aims = new StringBuilder("\n| call, whole-call ratios | agent, no sink ÷ floor, placed"
                + " (aim ≤ 1.3) | agent, jsonl ÷ floor, placed (aim ≤ 1.6) | agent, jsonl ÷ agent, no sink"
                + " (aim ≤ 2 at 16 KiB) |\n|---|---|---|---|\n");
        for (String s : sizes) {
            int size = Integer.parseInt(s.split(":")[0]);
            for (int k = 0; k < 2; k++) {
                double none = at(results, "none", size, k);
                double floor = at(results, "floor-multi", size, k);
                double placed = at(results, "floor-placed", size, k);
                double agent = at(results, "agent-multi", size, k);
                double entry = at(results, "agent-entry", size, k);
                double jsonl = at(results, "agent-jsonl", size, k);
                double bt = at(results, "bpftrace", size, k);
                String call = label(size) + (k == 0 ? " `SSL_write`" : " `SSL_read`");
                b.append("| ").append(call).append(" | ")
                        .append(f2(none)).append(" | ").append(f2(floor)).append(" | ").append(f2(placed)).append(" | ")
                        .append(ratio(placed - none, floor - none)).append(" | ").append(f2(agent)).append(" | ")
                        .append(ratio(agent - none, floor - none)).append(" | ").append(f2(entry)).append(" | ")
                        .append(ratio(entry - none, floor - none)).append(" | ").append(f2(jsonl)).append(" | ")
                        .append(ratio(jsonl - none, floor - none)).append(" | ").append(f2(bt)).append(" | ")
                        .append(ratio(bt - none, agent - none)).append(" |\n");
                aims.append("| ").append(call).append(" | ").append(ratio(agent, placed)).append(" | ")
                        .append(ratio(jsonl, placed)).append(" | ").append(ratio(jsonl, agent)).append(" |\n");
            }
        }
        b.append(aims);
        b.append("\n| configuration | events | events lost | allocated B per event (agent threads, after warm-up)"
                + " | allocated B per event (whole run, all threads − none) | RSS added (MiB) |\n");
        b.append("|---|---|---|---|---|---|\n");
        List<Run> none = results.get("none");
        double noneAlloc = none == null ? Double.NaN : medianOf(none.stream().map(r -> (double) r.allocated()).toList());
        double noneRss = none == null ? Double.NaN : medianOf(none.stream().map(r -> (double) r.rssKib()).toList());
        for (Config c : configs) {
            if (c.kind() != Kind.AGENT && c.kind() != Kind.BPFTRACE) {
                continue;
            }
            List<Run> runs = results.get(c.name());
            long events = runs.stream().mapToLong(Run::events).sum();
            long lost = runs.stream().mapToLong(Run::lost).sum();
            // the agent's threads alone (ThreadMXBean), after the probed warm-up, over the events
            // of the calls after it (the warm-up makes calls of every size in the same proportion)
            double alloc = medianOf(runs.stream().map(r -> (double) r.agentAllocated()
                    / Math.max(1, r.events() * (double) (r.calls() - r.warmupCalls()) / Math.max(1, r.calls())))
                    .toList());
            double whole = medianOf(runs.stream().map(r -> (r.allocated() - noneAlloc) / Math.max(1, r.events()))
                    .toList());
            double rss = medianOf(runs.stream().map(r -> (double) r.rssKib()).toList()) - noneRss;
            b.append("| ").append(c.name()).append(" | ").append(events).append(" | ").append(lost).append(" | ")
                    .append(c.kind() == Kind.AGENT ? String.format(Locale.ROOT, "%.0f", alloc) : "–").append(" | ")
                    .append(c.kind() == Kind.AGENT ? String.format(Locale.ROOT, "%.0f", whole) : "–").append(" | ")
                    .append(c.kind() == Kind.AGENT ? String.format(Locale.ROOT, "%.0f", rss / 1024) : "–")
                    .append(" |\n");
        }
        b.append("\n| start-up and reader | value |\n|---|---|\n");
        if (startup != null) {
            b.append(String.format(Locale.ROOT, "| `main` reached, empty `-javaagent` (ms after process start, median of %d) "
                    + "| %.1f |%n", startup.reps(), startup.mainEmpty()));
            b.append(String.format(Locale.ROOT, "| `main` reached, btf-agent | %.1f (%+.1f) |%n", startup.mainAgent(),
                    startup.mainAgent() - startup.mainEmpty()));
            b.append(String.format(Locale.ROOT, "| probes attached (ms after JVM start, median of %d) | %s |%n",
                    startup.attachedRuns(), Double.isNaN(startup.attached()) ? "–"
                            : String.format(Locale.ROOT, "%.0f", startup.attached())));
        }
        if (reader != null) {
            b.append(String.format(Locale.ROOT, "| ring reader, 64 B records, one thread (M records/s, median of %d) "
                    + "| %.1f |%n", reader.length, RingReaderBench.median(reader) / 1e6));
        }
        // the redactor alone, as the ring thread runs it before the sinks (default settings, no credentials)
        RedactionBench.Cost h1 = RedactionBench.http1(200_000);
        RedactionBench.Cost h2 = RedactionBench.http2(200_000);
        b.append(String.format(Locale.ROOT, "| masking, HTTP/1 64 B record without credentials (ns/event; B allocated/event) "
                + "| %.0f; %.1f |%n", h1.nsPerEvent(), h1.bytesPerEvent()));
        b.append(String.format(Locale.ROOT, "| masking, HTTP/2 record (HEADERS of 4 indexed fields + DATA, 36 B) "
                + "(ns/event; B allocated/event) | %.0f; %.1f |%n", h2.nsPerEvent(), h2.bytesPerEvent()));
        b.append("\nConfigurations: ");
        List<String> what = new ArrayList<>();
        for (Config c : configs) {
            what.add("`" + c.name() + "`: " + c.what());
        }
        b.append(String.join("; ", what)).append(".\n");
        return b.toString();
    }

    private static double at(Map<String, List<Run>> results, String config, int size, int k) {
        double[] m = medians(results.get(config), size);
        return m == null ? Double.NaN : m[k];
    }

    private static String ratio(double a, double b) {
        return Double.isNaN(a) || Double.isNaN(b) ? "–" : String.format(Locale.ROOT, "%.2f", a / b);
    }

    /** Median over all blocks of all runs, {write µs, read µs}; null if none. */
    private static double[] medians(List<Run> runs, int size) {
        if (runs == null) {
            return null;
        }
        List<double[]> b = new ArrayList<>();
        runs.forEach(r -> b.addAll(r.blocks().getOrDefault(size, List.of())));
        return new double[] {median(b, 0) / 1000, median(b, 1) / 1000};
    }

    /** {{min, max} of per-run write medians, {min, max} of per-run read medians}, µs. */
    private static double[][] runRange(List<Run> runs, int size) {
        double[][] out = {{Double.MAX_VALUE, 0}, {Double.MAX_VALUE, 0}};
        for (Run r : runs) {
            List<double[]> b = r.blocks().getOrDefault(size, List.of());
            for (int k = 0; k < 2; k++) {
                double m = median(b, k) / 1000;
                out[k][0] = Math.min(out[k][0], m);
                out[k][1] = Math.max(out[k][1], m);
            }
        }
        return out;
    }

    private static double median(List<double[]> blocks, int k) {
        double[] v = blocks.stream().mapToDouble(x -> x[k]).sorted().toArray();
        if (v.length == 0) {
            return Double.NaN;
        }
        return v.length % 2 == 1 ? v[v.length / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2;
    }

    private static String f2(double v) {
        if (Double.isNaN(v)) {
            return "–";
        }
        return String.format(Locale.ROOT, v >= 100 ? "%.1f" : "%.2f", v);
    }

    private static String label(int size) {
        return size % 1024 == 0 ? (size / 1024) + "KiB" : size + "B";
    }

    private static String cpuModel() {
        try {
            return Files.readAllLines(Path.of("/proc/cpuinfo")).stream().filter(l -> l.startsWith("model name"))
                    .map(l -> l.substring(l.indexOf(':') + 1).trim()).findFirst().orElse("?");
        } catch (IOException e) {
            return "?";
        }
    }

    private static String tail(Path file) {
        try {
            List<String> l = Files.readAllLines(file);
            return String.join("\n", l.subList(Math.max(0, l.size() - 20), l.size()));
        } catch (IOException e) {
            return e.toString();
        }
    }

    private static String required(String name) {
        String v = System.getProperty(name);
        if (v == null || v.isBlank()) {
            throw new IllegalArgumentException("missing -D" + name);
        }
        return v;
    }
}
