package io.btfagent.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code java -jar btf-agent.jar watch <pid>} against running wildfly-openssl JVMs: it attaches
 * an agent when none runs and detaches it on Ctrl-C (SIGINT), joins one that runs and leaves it
 * running, filters, and a terminal that does not read never holds the application up.
 */
@Privileged
class WatchIT extends AgainstEchoServer {
    private static final Path JAR = ChildJvm.AGENT_JAR.toAbsolutePath();
    private static final Pattern SHOWN = Pattern.compile("watch: (\\d+) events shown, (\\d+) dropped");

    @TempDir
    Path tmp;

    private static ChildProcess watch(long pid, String... options) throws Exception {
        List<String> cmd = new java.util.ArrayList<>(List.of(ChildJvm.JAVA, "-jar", JAR.toString(), "watch",
                String.valueOf(pid)));
        cmd.addAll(List.of(options));
        ChildProcess w = ChildProcess.start(cmd, Map.of(), false);
        w.awaitStderr(s -> s.contains("; Ctrl-C ends"), null, ChildProcess.deadline(120), "watching", 50);
        return w;
    }

    /** Ctrl-C: SIGINT to the command, which then detaches what it attached and exits. */
    private static void interrupt(ChildProcess w) throws Exception {
        new ProcessBuilder("kill", "-INT", String.valueOf(w.pid())).start().waitFor(10, TimeUnit.SECONDS);
        w.awaitExit(ChildProcess.deadline(60));
    }

    @Test
    void watchAttachesShowsTheExchangeAsTextAndDetachesOnCtrlC() throws Exception {
        try (RunningJvm service = new RunningJvm(List.of(), ChildJvm.CLASSPATH, List.of(), server.port())) {
            long pid = service.pid();
            try (ChildProcess w = watch(pid)) {
                assertTrue(w.stderr().startsWith("btf-agent attached to pid " + pid + " for this watch;"), w.stderr());
                service.request();
                w.awaitStdout(s -> s.contains("hello from btf-agent demo"), ChildProcess.deadline(60), "the response",
                        50);
                interrupt(w);
                String out = w.stdout();
                assertTrue(Pattern.compile("(?m)^\\d\\d:\\d\\d:\\d\\d\\.\\d{6}  main  conn \\d+ client  127\\.0\\.0\\.1:\\d+ → "
                        + "127\\.0\\.0\\.1:" + server.port() + "  openssl 3\\.0\\.\\d+ SSL_write egress  \\d+ B$")
                        .matcher(out).find(), out);
                assertTrue(out.contains("\n  GET / HTTP/1.1\n  Host: 127.0.0.1:" + server.port() + "\n"), out);
                assertTrue(out.contains("← 127.0.0.1:" + server.port() + "  openssl"), out);
                assertTrue(out.contains("\n  HTTP/1.1 200 OK\n"), out);
                assertFalse(out.contains("\033["), "no colour when stdout is not a terminal");
                Matcher m = SHOWN.matcher(w.stderr());
                assertTrue(m.find(), w.stderr());
                assertEquals("2", m.group(1), w.stderr());
                assertEquals("0", m.group(2), w.stderr());
                assertTrue(w.stderr().contains("btf-agent detached from pid " + pid), w.stderr());
            }
            assertEquals(Set.of(), AttachIT.agentObjects(pid), "the watch's agent is gone");
            assertEquals(List.of(), AttachIT.agentThreads(pid));
            service.request(); // the application goes on
            assertEquals(0, service.finish(), service.stderr());
        }
    }

    @Test
    void watchJoinsARunningAgentFiltersAndLeavesItRunning() throws Exception {
        Path jsonl = tmp.resolve("events.jsonl");
        try (RunningJvm service = new RunningJvm(List.of(), ChildJvm.CLASSPATH, List.of("-javaagent:" + JAR
                + "=sinks=jsonl,sink.jsonl.path=" + jsonl), server.port())) {
            long pid = service.pid();
            long deadline = ChildProcess.deadline(60);
            while (RunningJvm.command(JAR, "status", String.valueOf(pid)).exitCode() != 0) {
                assertTrue(System.nanoTime() < deadline, "the agent never answered status");
                Thread.sleep(200);
            }
            try (ChildProcess w = watch(pid, "dir=ingress")) {
                assertTrue(w.stderr().startsWith("joining the agent already running in pid " + pid), w.stderr());
                service.request();
                w.awaitStdout(s -> s.contains("hello from btf-agent demo"), ChildProcess.deadline(60), "the response",
                        50);
                interrupt(w);
                assertFalse(w.stdout().contains("GET / HTTP/1.1"), "dir=ingress leaves the request out: " + w.stdout());
                assertFalse(w.stderr().contains("detached"), w.stderr());
            }
            RunningJvm.Command after = RunningJvm.command(JAR, "status", String.valueOf(pid));
            assertEquals(0, after.exitCode(), "the agent that was there still runs: " + after.stderr());
            service.request();
            deadline = ChildProcess.deadline(30); // the sink writes its batch shortly after the exchange
            while (CapturedEvents.read(jsonl).size() < 4 && System.nanoTime() < deadline) {
                Thread.sleep(50);
            }
            assertEquals(4, CapturedEvents.read(jsonl).size(), "its own sink went on: two exchanges");
            assertEquals(0, service.finish(), service.stderr());
        }
    }

    /**
     * A netty server on netty-tcnative's BoringSSL (its library extracted and deleted by netty):
     * watch attaches, shows a curl POST's request and the server's answer as text with the
     * server's role, and detaches.
     */
    @Test
    void watchShowsANettyServersExchange() throws Exception {
        Path[] cert = NettyStack.selfSignedCertificate(tmp);
        try (ChildJvm.Running server = new ChildJvm().classpath(NettyStack.nettyClasspath(NettyStack.NETTY_LIB,
                NettyStack.TCNATIVE_VERSION)).jvmArg("-Djava.io.tmpdir=" + tmp)
                .start(AttachNettyIT.SERVER, List.of(cert[0].toString(), cert[1].toString()))) {
            int port = Integer.parseInt(server.awaitPrinted("port", 60));
            try (ChildProcess w = watch(server.pid(), "port=" + port)) {
                NettyStack.CurlResult c = NettyStack.finishCurl(NettyStack.startCurlPost(port, "watched body",
                        tmp.resolve("curl")), tmp.resolve("curl"));
                w.awaitStdout(s -> s.contains("watched body") && s.contains("SSL_write egress"),
                        ChildProcess.deadline(60), "the exchange", 50);
                interrupt(w);
                String out = w.stdout();
                assertTrue(Pattern.compile("(?m)^\\d\\d:\\d\\d:\\d\\d\\.\\d{6}  \\S+  conn \\d+ server  127\\.0\\.0\\.1:" + port
                        + " ← 127\\.0\\.0\\.1:" + c.localPort() + "  boringssl( \\S+)? SSL_read ingress  \\d+ B$").matcher(out).find(),
                        out);
                assertTrue(out.contains("\n  POST "), out);
                assertTrue(out.contains("\n  watched body"), out);
                assertTrue(w.stderr().contains("btf-agent detached from pid " + server.pid()), w.stderr());
            }
            assertEquals(Set.of(), AttachIT.agentObjects(server.pid()), "the watch's agent is gone");
        }
    }

    /**
     * A terminal that reads nothing (the command's stdout a pipe nobody reads, its queue 8 events):
     * the application's requests take no longer than without the watch, and the events that did not
     * fit are counted as dropped in the watch's own stream.
     */
    @Test
    void aTerminalThatDoesNotReadNeverHoldsTheApplicationUp() throws Exception {
        try (RunningJvm service = new RunningJvm(List.of(), ChildJvm.CLASSPATH, List.of(), server.port(),
                "/bytes/16000")) {
            long pid = service.pid();
            Path err = tmp.resolve("watch.err");
            Process w = new ProcessBuilder(ChildJvm.JAVA, "-jar", JAR.toString(), "watch", String.valueOf(pid),
                    "queue=8").redirectError(err.toFile()).redirectInput(new File("/dev/null")).start();
            try {
                long deadline = ChildProcess.deadline(120);
                while (!Files.readString(err).contains("; Ctrl-C ends")) {
                    assertTrue(System.nanoTime() < deadline && w.isAlive(), Files.readString(err));
                    Thread.sleep(50);
                }
                long slowest = 0;
                for (int i = 0; i < 60; i++) {
                    long t0 = System.nanoTime();
                    service.request();
                    slowest = Math.max(slowest, System.nanoTime() - t0);
                }
                System.out.println("slowest of 60 requests while the watch's pipe was not read: "
                        + slowest / 1_000_000 + " ms");
                assertTrue(slowest < TimeUnit.SECONDS.toNanos(10), "a request waited " + slowest / 1_000_000 + " ms");
                // now the terminal reads again: the next event shown says how many were dropped
                java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
                Thread reader = new Thread(() -> {
                    try {
                        w.getInputStream().transferTo(out);
                    } catch (java.io.IOException ignored) {
                        // the watch ended
                    }
                });
                reader.start();
                service.request();
                deadline = ChildProcess.deadline(60);
                while (!out.toString(StandardCharsets.UTF_8).contains(" events dropped here: the terminal read slower "
                        + "than the traffic came")) {
                    assertTrue(System.nanoTime() < deadline, "no drop line in: " + out.toString(StandardCharsets.UTF_8)
                            .lines().filter(l -> !l.startsWith(" ")).toList());
                    Thread.sleep(50);
                }
                new ProcessBuilder("kill", "-INT", String.valueOf(w.pid())).start().waitFor(10, TimeUnit.SECONDS);
                assertTrue(w.waitFor(60, TimeUnit.SECONDS), "the watch ended");
                reader.join(10_000);
                Matcher m = SHOWN.matcher(Files.readString(err));
                assertTrue(m.find(), Files.readString(err));
                assertTrue(Long.parseLong(m.group(2)) > 0, "events were dropped: " + Files.readString(err));
            } finally {
                w.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
            assertEquals(Set.of(), AttachIT.agentObjects(pid), "the watch's agent is gone");
            assertEquals(0, service.finish(), service.stderr());
        }
    }
}
