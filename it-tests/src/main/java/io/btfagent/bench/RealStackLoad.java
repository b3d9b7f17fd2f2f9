package io.btfagent.bench;

import io.btfagent.demo.TlsEchoServer;
import io.btfagent.demo.WildflyHttpsClient;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The benchmark's real stack under load: a service JVM whose 8 threads make HTTPS requests
 * through wildfly-openssl (the system's libssl, JNI) to a JSSE server in the same JVM, with
 * response bodies from 10 B to 200 KiB, for a fixed time; run without the agent and with it
 * (the jsonl sink writing to a real file), interleaved, and compared by requests per second.
 * With the agent, the run counts only if its exit stats show no record, byte or event lost,
 * truncated or dropped (every byte captured).
 *
 * <p>{@code RealStackLoad <java> <classpath> <agent jar> <work dir> <table file>} runs the
 * comparison (settings: {@code bench.load.reps} interleaved pairs, 3; {@code bench.load.seconds}
 * measured per run, 20; {@code bench.load.threads}, 8) and appends its Markdown rows to the
 * table file. With {@code bench.profile.lib} and {@code bench.profile.jar} (async-profiler's library and
 * jar), one more run with the agent is profiled ({@link ProfileWindow}): the flame graph and the
 * collapsed stacks go to {@code bench.profile.dir} and the CPU by component ({@link ProfileTable})
 * to the table. {@code RealStackLoad child <threads> <warm-up s> <seconds>} is one service run.
 */
public final class RealStackLoad {
    /** Response bodies, cycled through by every thread: 10 B to 200 KiB. */
    static final int[] SIZES = {10, 1024, 16 * 1024, 64 * 1024, 200 * 1024};
    private static final Pattern STATS = Pattern.compile("capture stats (\\{.*\\})");

    private RealStackLoad() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length > 0 && args[0].equals("child")) {
            child(Integer.parseInt(args[1]), Integer.parseInt(args[2]), Integer.parseInt(args[3]));
            return;
        }
        if (args.length != 5) {
            System.err.println("usage: RealStackLoad <java> <classpath> <agent jar> <work dir> <table file>");
            System.exit(2);
        }
        compare(args[0], args[1], Path.of(args[2]), Path.of(args[3]), Path.of(args[4]));
    }

    /** One service run: prints "requests N", "seconds S", "bytes B" for the measured part. */
    static void child(int threads, int warmupSeconds, int seconds) throws Exception {
        try (TlsEchoServer server = new TlsEchoServer().start()) {
            WildflyHttpsClient client = new WildflyHttpsClient();
            AtomicBoolean counting = new AtomicBoolean();
            AtomicBoolean stop = new AtomicBoolean();
            AtomicLong requests = new AtomicLong();
            AtomicLong bytes = new AtomicLong();
            AtomicLong failures = new AtomicLong();
            List<Thread> workers = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int first = t;
                Thread w = new Thread(() -> {
                    for (int i = first; !stop.get(); i++) {
                        String path = "/bytes/" + SIZES[i % SIZES.length];
                        try {
                            WildflyHttpsClient.Exchange e = client.get("127.0.0.1", server.port(), path);
                            if (counting.get()) {
                                requests.incrementAndGet();
                                bytes.addAndGet(e.request().length + e.response().length);
                            }
                        } catch (IOException e) {
                            failures.incrementAndGet();
                        }
                    }
                }, "load-" + t);
                w.start();
                workers.add(w);
            }
            Thread.sleep(warmupSeconds * 1000L);
            long t0 = System.nanoTime();
            counting.set(true);
            ProfileWindow.start();
            Thread.sleep(seconds * 1000L);
            counting.set(false);
            ProfileWindow.stop();
            long t1 = System.nanoTime();
            stop.set(true);
            for (Thread w : workers) {
                w.join();
            }
            System.out.println("requests " + requests.get());
            System.out.printf(Locale.ROOT, "seconds %.3f%n", (t1 - t0) / 1e9);
            System.out.println("bytes " + bytes.get());
            System.out.println("failures " + failures.get());
        }
    }

    private record Run(double perSecond, long requests, long failures, String stats, long jsonlBytes) {
    }

    static void compare(String java, String classpath, Path agentJar, Path work, Path table) throws Exception {
        int reps = Integer.getInteger("bench.load.reps", 3);
        int seconds = Integer.getInteger("bench.load.seconds", 20);
        int threads = Integer.getInteger("bench.load.threads", 8);
        double[] without = new double[reps];
        double[] with = new double[reps];
        List<String> problems = new ArrayList<>();
        long jsonlBytes = 0;
        for (int r = 0; r < reps; r++) {
            without[r] = run(java, classpath, null, work, threads, seconds, List.of()).perSecond();
            Run a = run(java, classpath, agentJar, work, threads, seconds, List.of());
            with[r] = a.perSecond();
            jsonlBytes = Math.max(jsonlBytes, a.jsonlBytes());
            String lost = lost(a.stats()) + (a.failures() == 0 ? "" : " requests failed=" + a.failures());
            if (!lost.isEmpty()) {
                problems.add("run " + (r + 1) + ": " + lost);
            }
            System.err.printf(Locale.ROOT, "load: pair %d of %d: %.1f requests/s without the agent, %.1f with%n",
                    r + 1, reps, without[r], with[r]);
        }
        String profile = "";
        String profileLib = System.getProperty("bench.profile.lib");
        if (profileLib != null) {
            // one more run each way, profiled: the same JVM without the agent is the baseline
            Path dir = Path.of(System.getProperty("bench.profile.dir", work.toString()));
            String cp = classpath + ":" + System.getProperty("bench.profile.jar");
            Map<Boolean, Run> runs = new java.util.HashMap<>();
            for (boolean withAgent : new boolean[] {false, true}) {
                Path out = dir.resolve(withAgent ? "bench-profile-wildfly" : "bench-profile-wildfly-none");
                runs.put(withAgent, run(java, cp, withAgent ? agentJar : null, work, threads, seconds, List.of(
                        "-agentpath:" + profileLib, "-Dbench.profile.lib=" + profileLib, "-Dbench.profile.out=" + out,
                        "-Dbench.profile.title=wildfly-openssl HTTPS load, " + (withAgent
                                ? "btf-agent with the jsonl sink" : "no agent"))));
            }
            System.err.printf(Locale.ROOT, "load: profiled runs: %.1f requests/s without the agent, %.1f with%n",
                    runs.get(false).perSecond(), runs.get(true).perSecond());
            profile = ProfileTable.markdown("wildfly real stack, the agent with the jsonl sink",
                    ProfileTable.read(dir.resolve("bench-profile-wildfly-none.collapsed")),
                    ProfileTable.read(dir.resolve("bench-profile-wildfly.collapsed")), seconds,
                    new long[] {runs.get(false).requests(), runs.get(true).requests()}, String.format(Locale.ROOT,
                            "Flame graphs: `it-tests/target/bench-profile-wildfly.html` (agent) and"
                                    + " `bench-profile-wildfly-none.html` (no agent), collapsed stacks beside them"
                                    + " (`.collapsed`); async-profiler 4.1, event=cpu every 1 ms over the measured"
                                    + " %d s of one more run each way: %.0f requests/s without the agent, %.0f with.",
                            seconds, runs.get(false).perSecond(), runs.get(true).perSecond()));
        }
        double w0 = median(without);
        double w1 = median(with);
        String captured = problems.isEmpty() ? "every byte (no loss in any run's stats)" : String.join("; ", problems);
        String md = String.format(Locale.ROOT, "%n| real stack: %d threads, wildfly-openssl HTTPS, 10 B–200 KiB "
                + "responses, jsonl to a file | requests/s | |%n|---|---|---|%n"
                + "| without the agent | %.0f | |%n| with the agent | %.0f | %.1f %% fewer |%n"
                + "| captured | %s | jsonl file up to %d MiB per run |%n",
                threads, w0, w1, 100 * (1 - w1 / w0), captured, jsonlBytes >> 20) + profile;
        System.out.print(md);
        Files.writeString(table, md, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    }

    private static Run run(String java, String classpath, Path agentJar, Path work, int threads, int seconds,
            List<String> jvmArgs) throws Exception {
        Path jsonl = work.resolve("load-events.jsonl");
        Files.deleteIfExists(jsonl);
        List<String> cmd = new ArrayList<>(List.of(java, "-Dorg.wildfly.openssl.path=" + System.getProperty(
                "bench.libssl.dir", "/usr/lib/x86_64-linux-gnu")));
        cmd.addAll(jvmArgs);
        if (agentJar != null) {
            cmd.add("-javaagent:" + agentJar + "=sinks=jsonl,sink.jsonl.path=" + jsonl);
        }
        cmd.addAll(List.of("-cp", classpath, RealStackLoad.class.getName(), "child", String.valueOf(threads), "3",
                String.valueOf(seconds)));
        Path out = work.resolve("load.out");
        Path err = work.resolve("load.err");
        Process p = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        try {
            if (!p.waitFor(seconds + 120L, TimeUnit.SECONDS)) {
                throw new IOException("the load run did not end: " + cmd);
            }
        } finally {
            p.destroyForcibly();
        }
        String stdout = Files.readString(out);
        String stderr = Files.readString(err);
        if (p.exitValue() != 0) {
            throw new IOException("the load run failed (exit " + p.exitValue() + "): " + stderr);
        }
        long requests = value(stdout, "requests");
        double secs = Double.parseDouble(field(stdout, "seconds"));
        Matcher m = STATS.matcher(stderr);
        String stats = null;
        while (m.find()) {
            stats = m.group(1);
        }
        if (agentJar != null && stats == null) {
            throw new IOException("the agent printed no capture stats: " + stderr);
        }
        long size = Files.exists(jsonl) ? Files.size(jsonl) : 0;
        Files.deleteIfExists(jsonl);
        return new Run(requests / secs, requests, value(stdout, "failures"), stats, size);
    }

    /** What the stats JSON says was lost, truncated or dropped; empty when nothing. */
    static String lost(String stats) {
        if (stats == null) {
            return "";
        }
        // a key may come twice (the JSSE part repeats what the totals hold): said once
        java.util.Set<String> out = new java.util.LinkedHashSet<>();
        for (String key : new String[] {"records_lost", "bytes_lost", "calls_truncated", "bytes_truncated",
            "read_faults", "records_undecodable", "dropped", "dropped_bytes", "failed"}) {
            Matcher m = Pattern.compile("\"" + key + "\":(\\d+)").matcher(stats);
            while (m.find()) {
                if (Long.parseLong(m.group(1)) != 0) {
                    out.add(key + "=" + m.group(1));
                }
            }
        }
        return String.join(", ", out);
    }

    private static String field(String text, String key) throws IOException {
        for (String line : text.lines().toList()) {
            if (line.startsWith(key + " ")) {
                return line.substring(key.length() + 1).trim();
            }
        }
        throw new IOException("no '" + key + "' in: " + text);
    }

    private static long value(String text, String key) throws IOException {
        return Long.parseLong(field(text, key));
    }

    static double median(double[] values) {
        double[] s = values.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }
}
