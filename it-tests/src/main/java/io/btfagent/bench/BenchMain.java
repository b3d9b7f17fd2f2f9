package io.btfagent.bench;

import io.btfagent.bpf.BpfObject;
import io.btfagent.bpf.UprobeLink;
import io.btfagent.bpf.internal.Libbpf;
import io.btfagent.bpf.internal.LibbpfMulti;
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

    private enum Kind { NONE, FLOOR, AGENT }

    /** One column of the comparison; {@code floor} is the floor an agent row is divided by. */
    private record Config(String name, Kind kind, boolean multi, String agentArgs, String floor, String what) {
    }

    /** What one child JVM measured: per size, per block {write ns, read ns}. */
    private record Run(Map<Integer, List<double[]>> blocks, long calls, String check) {
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
                new Config("agent-single", Kind.AGENT, false, common + ",attach.mode=single,sinks=", "floor-single",
                        "agent, attach.mode=single, no sink (events decoded and counted)"),
                new Config("agent-multi", Kind.AGENT, true, common + ",attach.mode=multi,sinks=", "floor-multi",
                        "agent, attach.mode=multi, no sink (events decoded and counted)"),
                new Config("agent-jsonl", Kind.AGENT, true,
                        common + ",attach.mode=multi,sinks=jsonl,sink.jsonl.path=" + jsonl, "floor-multi",
                        "agent, attach.mode=multi, sinks=jsonl to " + jsonl));
        List<String> wanted = List.of(System.getProperty("bench.configs",
                String.join(",", all.stream().map(Config::name).toList())).split(","));
        List<Config> configs = all.stream().filter(c -> wanted.contains(c.name()))
                .filter(c -> multiAvailable || !c.multi()).toList();

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
                results.get(c.name()).add(runChild(c, cmd, err, floorObject, libssl));
                Files.deleteIfExists(Path.of(jsonl)); // only the cost of writing it is of interest
            }
        }
        long seconds = TimeUnit.NANOSECONDS.toSeconds(System.nanoTime() - start);
        report(configs, results, sizes, reps, blocks, libssl, seconds);
    }

    private static Run runChild(Config c, List<String> cmd, Path errFile, byte[] floorObject, String libssl)
            throws Exception {
        Process p = new ProcessBuilder(cmd).redirectError(errFile.toFile()).start();
        CHILDREN.add(p);
        BpfObject floor = null;
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
                floor = attachFloor(c.multi(), floorObject, (int) p.pid(), libssl);
            } else if (c.kind() == Kind.AGENT) {
                long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(TIMEOUT_S);
                while (!Files.readString(errFile).contains("hooked openssl")) {
                    if (!p.isAlive() || System.nanoTime() > deadline) {
                        throw new IllegalStateException(c.name() + ": the agent did not hook libssl: " + tail(errFile));
                    }
                    Thread.sleep(20);
                }
            }
            try (OutputStream go = p.getOutputStream()) {
                go.write('\n');
            }
            if (!p.waitFor(TIMEOUT_S, TimeUnit.SECONDS)) {
                throw new IllegalStateException(c.name() + ": child did not finish");
            }
            reader.join(TimeUnit.SECONDS.toMillis(10));
            if (p.exitValue() != 0) {
                throw new IllegalStateException(c.name() + ": child exited " + p.exitValue() + ": " + tail(errFile));
            }
            Map<Integer, List<double[]>> blocks = new LinkedHashMap<>();
            long calls = -1;
            for (String l : all) {
                String[] f = l.split(" ");
                if (f[0].equals("block")) {
                    blocks.computeIfAbsent(Integer.parseInt(f[1]), k -> new ArrayList<>())
                            .add(new double[] {Double.parseDouble(f[2]), Double.parseDouble(f[3])});
                } else if (f[0].equals("calls")) {
                    calls = Long.parseLong(f[1]);
                }
            }
            String check = "";
            if (floor != null) {
                long[] hits = floor.readPerCpuCounters("hits", 2);
                // every SSL_write and SSL_read after the go line: one entry and one return each
                check = "probe entries " + hits[0] + ", returns " + hits[1] + ", expected " + (2 * calls)
                        + (hits[0] == 2 * calls && hits[1] == 2 * calls ? " (ok)" : " (MISMATCH)");
            } else if (c.kind() == Kind.AGENT) {
                check = Files.readAllLines(errFile).stream().filter(l -> l.contains("capture summary"))
                        .map(l -> l.substring(l.indexOf("capture summary"))).findFirst()
                        .orElse("no capture summary");
            }
            return new Run(blocks, calls, check);
        } finally {
            if (p.isAlive()) {
                p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
            CHILDREN.remove(p);
            if (floor != null) {
                detach(floor);
            }
        }
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

    private static void report(List<Config> configs, Map<String, List<Run>> results, List<String> sizes, int reps,
            int blocks, String libssl, long seconds) throws IOException {
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
