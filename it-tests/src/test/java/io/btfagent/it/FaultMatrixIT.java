package io.btfagent.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.btfagent.demo.TlsEchoServer;
import io.btfagent.demo.WildflyHttpsClient;
import io.btfagent.it.CapturedEvents.Event;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * Each fault the agent can meet, run against the same application with and without the
 * agent: the application's stdout, stderr (less the agent's own prefixed lines) and exit code
 * must be identical, and the agent must say what went wrong and how to fix it.
 */
@Privileged
class FaultMatrixIT extends AgainstEchoServer {
    private static final String CLIENT = "io.btfagent.demo.WildflyHttpsClient";

    private List<String> args(String path, int repeat) {
        return List.of(HOST, String.valueOf(server.port()), path, String.valueOf(repeat));
    }

    /**
     * Runs the client without the agent, then with it (traffic starts once every marker has
     * appeared on stderr), checks the application saw no difference, and returns the agent run.
     */
    private ChildJvm.Result compare(String fault, String agentOptions, List<String> markers, ChildJvm base,
            ChildJvm withAgent, List<String> args) throws Exception {
        ChildJvm.Result without = base.runWhenReady(CLIENT, args, 120, "traffic", List.of(""));
        ChildJvm.Result with = withAgent.agent(agentOptions).runWhenReady(CLIENT, args, 120, "traffic", markers);
        System.out.println("fault '" + fault + "': the agent printed:");
        with.agentLines().forEach(l -> System.out.println("  " + l));
        assertEquals(without.exitCode(), with.exitCode(), fault + ": exit code");
        assertEquals(without.comparableStdout(), with.comparableStdout(), fault + ": stdout");
        assertEquals(without.comparableStderr(), with.comparableStderr(), fault + ": stderr");
        return with;
    }

    private ChildJvm.Result compare(String fault, String agentOptions, List<String> markers, List<String> args)
            throws Exception {
        return compare(fault, agentOptions, markers, new ChildJvm(), new ChildJvm(), args);
    }

    @Test
    void kernelBtfMissing() throws Exception {
        ChildJvm.Result r = compare("kernel BTF missing", "kernel.btf=/nonexistent/vmlinux",
                List.of("kernel BTF /nonexistent/vmlinux is missing"), args("/", 1));
        assertEquals(1, r.agentLines().size(), r.stderr());
        assertTrue(r.agentLines().get(0).contains("CONFIG_DEBUG_INFO_BTF"), r.agentLines().get(0));
    }

    @Test
    void nativeDirOnANoexecMount() throws Exception {
        Path mount = Files.createDirectories(tmp.resolve("noexec"));
        run("mount", "-t", "tmpfs", "-o", "noexec,size=16m", "tmpfs", mount.toString());
        try {
            ChildJvm.Result r = compare("native.dir on a noexec mount", "native.dir=" + mount.resolve("natives"),
                    List.of("mounted noexec"), args("/", 1));
            assertEquals(1, r.agentLines().size(), r.stderr());
            assertTrue(r.agentLines().get(0).contains("native.dir " + mount.resolve("natives") + " is on " + mount
                    + ", mounted noexec") && r.agentLines().get(0).contains("set native.dir"), r.agentLines().get(0));
        } finally {
            run("umount", mount.toString());
        }
    }

    private static void run(String... cmd) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), String.join(" ", cmd) + ": " + out);
    }

    @Test
    void corruptBtfInBtfPathIsPassedOverForTheCatalogsOwn() throws Exception {
        Path btfDir = Files.createDirectories(tmp.resolve("btf"));
        byte[] garbage = new byte[4096];
        new Random(42).nextBytes(garbage);
        Path file = Files.write(btfDir.resolve(Libraries.buildId(Libraries.LIBSSL) + ".btf"), garbage);
        Path jsonl = tmp.resolve("events.jsonl");
        ChildJvm.Result r = compare("corrupt BTF in btf.path",
                "btf.path=" + btfDir + ",sinks=jsonl,sink.jsonl.path=" + jsonl, List.of(WildflyCaptureIT.READY),
                args("/", 1));
        String line = r.agentLines().stream().filter(l -> l.contains("passed over")).findFirst().orElseThrow();
        assertTrue(line.contains("BTF catalog:openssl/") && line.contains("; passed over btf.path file " + file
                + " is not BTF (its first bytes are not the BTF magic 0xeb9f))"), line);
        assertEquals(2, CapturedEvents.read(jsonl).size(), "captured through the catalog's BTF of this build");
    }

    @Test
    void unknownLibraryBuildWithNoUsableBtfIsNamedAndNotHooked() throws Exception {
        // A working copy of the system's OpenSSL with another build-id, claiming a version line
        // (3.9) no catalog build has: no BTF can be used for it.
        Path dir = tmp.resolve("unknown-build");
        Path libssl = Libraries.unknownBuild(dir, "3.9." + WildflyCaptureIT.systemOpensslVersion().substring(4));
        String unknownId = Libraries.buildId(libssl);

        Path jsonl = tmp.resolve("events.jsonl");
        ChildJvm base = new ChildJvm().jvmArg("-Dorg.wildfly.openssl.path=" + dir);
        ChildJvm withAgent = new ChildJvm().jvmArg("-Dorg.wildfly.openssl.path=" + dir);
        ChildJvm.Result r = compare("library build unknown", "sinks=jsonl,sink.jsonl.path=" + jsonl,
                List.of("is not in the BTF catalog"), base, withAgent, args("/", 1));
        String line = r.agentLines().stream().filter(l -> l.contains("is not in the BTF catalog")).findFirst()
                .orElseThrow();
        assertTrue(line.contains(libssl.toString()) && line.contains(unknownId) && line.contains(" 3.9.")
                && line.contains("btf.path"), line);
        assertTrue(CapturedEvents.read(jsonl).isEmpty(), "the unknown build is not hooked");
    }

    @Test
    void unreadableConfigFileFallsBackToDefaultsAndInlineOptions() throws Exception {
        Path jsonl = tmp.resolve("events.jsonl");
        ChildJvm.Result r = compare("unreadable config file",
                "config=/nonexistent/btf-agent.properties,sinks=jsonl,sink.jsonl.path=" + jsonl,
                List.of(WildflyCaptureIT.READY), args("/", 1));
        assertTrue(r.agentLines().get(0).contains("cannot read config file /nonexistent/btf-agent.properties")
                && r.agentLines().get(0).contains("using defaults"), r.agentLines().get(0));
        List<Event> events = CapturedEvents.read(jsonl);
        assertEquals(2, events.size(), "capture works with the inline options");
    }

    @Test
    void sinkThatCannotWriteHoldsItsEventsCountsThemAtExitAndOtherSinksContinue() throws Exception {
        // A file system with no space left for the whole run: the jsonl sink holds its events
        // (said once), which count as dropped at exit; the log sink goes on.
        Path full = Files.createDirectory(tmp.resolve("full"));
        sh("mount -t tmpfs -o size=4k,mode=0700 btf-agent-full " + full);
        ChildJvm.Result r;
        try {
            sh("head -c 4096 /dev/zero > " + full + "/filler");
            r = compare("sink that cannot write", "sinks=jsonl,log,sink.jsonl.path=" + full + "/events.jsonl",
                    List.of(WildflyCaptureIT.READY), args("/", 2));
        } finally {
            sh("umount " + full);
        }
        List<String> jsonlLines = r.agentLines().stream().filter(l -> l.contains("WARN  sink jsonl")).toList();
        assertEquals(2, jsonlLines.size(), r.stderr());
        assertTrue(jsonlLines.get(0).contains("sink jsonl cannot write now: cannot write " + full
                + "/events.jsonl: No space left on device"), jsonlLines.get(0));
        assertTrue(jsonlLines.get(1).contains("sink jsonl still could not write at exit, after ")
                || jsonlLines.get(1).contains("sink jsonl had not written again at exit, after "), jsonlLines.get(1));
        AgentStats stats = AgentStats.of(r);
        assertEquals(4, stats.sink("log", "delivered"), "two requests and two responses reach the log sink");
        assertEquals(0, stats.sink("log", "dropped"));
        assertEquals(0, stats.sink("log", "failed"));
        assertEquals(0, stats.sink("jsonl", "delivered"), stats.toString());
        assertEquals(0, stats.sink("jsonl", "failed"), stats.toString());
        assertEquals(4, stats.sink("jsonl", "exit_events"), stats.toString());
        assertEquals(4, r.agentLines().stream().filter(l -> l.contains(" egress ") || l.contains(" ingress ")).count(),
                "log sink lines");
    }

    @Test
    void ringFarTooSmallCountsEveryLostByteExactly() throws Exception {
        String path = "/bytes/" + (1 << 20);
        Path jsonl = tmp.resolve("events.jsonl");
        ChildJvm.Result r = compare("ring buffer far too small",
                "ring.bytes=4096,sinks=jsonl,sink.jsonl.path=" + jsonl, List.of(WildflyCaptureIT.READY),
                args(path, 1));
        List<Event> events = CapturedEvents.read(jsonl);
        long capturedBytes = events.stream().mapToLong(e -> e.num("captured")).sum();
        long transferred = WildflyHttpsClient.request(HOST, server.port(), path).length
                + TlsEchoServer.responseFor(path).length;
        AgentStats stats = AgentStats.of(r);
        long lostRecords = stats.counter("records_lost");
        long lostBytes = stats.counter("bytes_lost");
        assertTrue(lostRecords > 0, stats.toString());
        assertEquals(transferred, capturedBytes + lostBytes, "every byte is either captured or counted as lost");
        assertEquals(stats.counter("records"), events.size(), "records written = records delivered");
        // the same from the counters alone: what the sink delivered, dropped or failed on, plus what never reached it
        long sinkBytes = stats.sink("jsonl", "delivered_bytes") + stats.sink("jsonl", "queue_full_bytes")
                + stats.sink("jsonl", "failed_bytes") + stats.sink("jsonl", "exit_bytes");
        assertEquals(capturedBytes, stats.sink("jsonl", "delivered_bytes"), "delivered bytes = bytes in the file");
        assertEquals(transferred, sinkBytes + lostBytes + stats.counter("bytes_truncated")
                + stats.counter("read_faults"), "captured + dropped + lost + truncated + unreadable = transferred");
    }

    @Test
    void jvmExitDuringALargeCapturedTransfer() throws Exception {
        Path jsonl = tmp.resolve("events.jsonl");
        ChildJvm base = new ChildJvm().jvmArg("-Ddemo.exit-after-bytes=8000000");
        ChildJvm withAgent = new ChildJvm().jvmArg("-Ddemo.exit-after-bytes=8000000");
        ChildJvm.Result r = compare("JVM exit during a large captured transfer", "sinks=jsonl,sink.jsonl.path=" + jsonl,
                List.of(WildflyCaptureIT.READY), base, withAgent, args("/bytes/" + (64 << 20), 1));
        assertEquals(3, r.exitCode());
        assertTrue(r.stdout().contains("exiting after 8000000 bytes"), r.stdout());
        List<Event> events = CapturedEvents.read(jsonl);
        byte[] response = TlsEchoServer.responseFor("/bytes/" + (64 << 20));
        byte[] captured = CapturedEvents.stream(events, false);
        assertTrue(captured.length >= 8_000_000, "what was read before the exit was captured: " + captured.length);
        assertEquals(0, java.util.Arrays.compare(response, 0, captured.length, captured, 0, captured.length),
                "captured bytes are a prefix of the response");
        assertTrue(summary(r).contains("capture summary"), r.stderr());
    }

    @Test
    void aDeviceAsJsonlPathIsRefusedInOneLineAndTheLogSinkRuns() throws Exception {
        ChildJvm.Result r = compare("device as jsonl path", "sinks=jsonl,log,sink.jsonl.path=/dev/full",
                List.of(WildflyCaptureIT.READY), args("/", 1));
        assertEquals(1, r.agentLines().stream().filter(l -> l.endsWith(
                "WARN  sink jsonl not started: /dev/full is a character device, not a regular file; name a regular file")).count(),
                r.stderr());
        AgentStats stats = AgentStats.of(r);
        assertEquals(2, stats.sink("log", "delivered"), stats.toString());
        assertEquals(List.of("log"), List.copyOf(((java.util.Map<?, ?>) stats.fields().get("sinks")).keySet()),
                "only the log sink runs");
    }

    /** Runs a shell command as this (root) test; fails the test if it fails. */
    private static void sh(String command) throws Exception {
        Process p = new ProcessBuilder("sh", "-c", command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), command);
        assertEquals(0, p.exitValue(), command + ": " + out);
    }

    private static String summary(ChildJvm.Result r) {
        return r.agentLines().stream().filter(l -> l.contains("capture summary")).findFirst()
                .orElseThrow(() -> new AssertionError("no capture summary:\n" + r.stderr()));
    }
}
