package io.btfagent.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.btfagent.it.CapturedEvents.Event;
import io.btfagent.netty.NettyHttpsServer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * netty 4.2 HTTPS servers on netty-tcnative-boringssl-static, with curl as the client. netty
 * extracts its library to the temp dir under a random name and deletes it once loaded, so the
 * agent finds it by content in the maps and attaches through /proc/self/map_files; BoringSSL's
 * SSL_read/SSL_write are local symbols. Every request (ingress) and response (egress) must be
 * captured exactly, as the server itself printed them.
 */
@Privileged
class NettyBoringsslIT {
    private static final String SERVER = "io.btfagent.netty.NettyHttpsServer";

    @TempDir
    Path tmp;

    /** One connection as the server printed it: what it received and sent. */
    record Conn(byte[] received, byte[] sent) {
    }

    /**
     * With {@code late-loads=} the library is found by the periodic maps scan only, after netty
     * has deleted it: this proves the attach through /proc/self/map_files, in both attach modes.
     */
    @ParameterizedTest(name = "attach.mode={0}")
    @ValueSource(strings = {"multi", "single"})
    void twoConcurrentCurlPostsAreCapturedExactly(String mode) throws Exception {
        Run run = serve(NettyStack.NETTY_LIB, NettyStack.TCNATIVE_VERSION, ",late-loads=,attach.mode=" + mode, List.of(
                "first body: hello netty", "second body, longer: " + "x".repeat(300)));

        assertEquals(2, run.conns.size(), "two connections: " + run.conns.keySet());
        Map<String, List<Event>> bySsl = bySsl(run.events);
        assertEquals(2, bySsl.size(), "one SSL* per connection: " + bySsl.keySet());
        for (NettyStack.CurlResult c : run.curls) {
            Conn conn = run.conns.get(c.localPort());
            assertArrayEquals(NettyHttpsServer.response(bodyOf(conn.received())), conn.sent());
            assertArrayEquals(bodyOf(conn.sent()), c.body(), "curl got what the server sent");
            List<Event> mine = bySsl.values().stream()
                    .filter(es -> java.util.Arrays.equals(CapturedEvents.stream(es, false), conn.received()))
                    .findFirst().orElseThrow(() -> new AssertionError("no SSL* whose ingress is the request of port "
                            + c.localPort() + ": " + new String(conn.received(), StandardCharsets.ISO_8859_1)
                            + "\ncaptured: " + run.events));
            assertArrayEquals(conn.sent(), CapturedEvents.stream(mine, true), "response captured as egress");
            // identity from the JVM side: the SslHandler's channel, joined to its SSL* in the kernel
            long connId = mine.get(0).num("conn");
            assertTrue(connId > 0, mine.get(0).fields().toString());
            for (Event e : mine) {
                assertEquals(connId, e.num("conn"), e.fields().toString());
                assertEquals("server", e.str("role"), e.fields().toString());
                assertEquals("127.0.0.1:" + run.port, e.str("local"), e.fields().toString());
                assertEquals("127.0.0.1:" + c.localPort(), e.str("remote"), "curl's own connection: " + e.fields());
                assertTrue(e.str("thread").startsWith("multiThreadIoEventLoopGroup-"),
                        "the event loop's Java name: " + e.fields());
            }
        }
        assertEquals(2, run.events.stream().map(e -> e.num("conn")).distinct().count(), "two conns");
        for (Event e : run.events) {
            assertEquals("boringssl", e.str("lib"));
            assertEquals(-1, e.num("fd"), "netty drives BoringSSL over its ByteBuffer BIO only");
            assertEquals(run.pid, e.num("pid"));
            assertTrue(e.str("libPath").startsWith(tmp.resolve("libnetty_tcnative_linux_x86_64").toString()),
                    e.str("libPath"));
            assertEquals(e.egress() ? "SSL_write" : "SSL_read", e.str("func"));
            assertEquals(e.num("len"), e.num("captured"));
        }
        assertTrue(run.hookedLine.contains("(deleted; attached through /proc/self/map_files/"),
                "netty deleted the library before it was hooked: " + run.hookedLine);
    }

    static List<String> tcnativeVersions() {
        return NettyStack.tcnativeVersions();
    }

    /**
     * Every netty-tcnative-boringssl-static release Maven Central serves for linux-x86_64 from
     * 2.0.74 to 2.0.84, under netty 4.2.9: one JVM, one POST each.
     */
    @ParameterizedTest(name = "netty-tcnative-boringssl-static {0}")
    @MethodSource("tcnativeVersions")
    void everyReleaseIsCaptured(String version) throws Exception {
        org.junit.jupiter.api.Assumptions.assumeFalse(Boolean.getBoolean("it.tcnative-matrix.skip"),
                "the release matrix runs once, in the JDK 17 pass");
        Run run = serve(NettyStack.NETTY_MATRIX_LIB, version, "", List.of("release " + version));

        NettyStack.CurlResult c = run.curls.get(0);
        Conn conn = run.conns.get(c.localPort());
        assertArrayEquals(conn.received(), CapturedEvents.stream(run.events, false), "request (ingress)");
        assertArrayEquals(conn.sent(), CapturedEvents.stream(run.events, true), "response (egress)");
        assertEquals(1, bySsl(run.events).size());
        for (Event e : run.events) {
            assertEquals("boringssl", e.str("lib"));
            assertEquals(-1, e.num("fd"));
        }
    }

    private record Run(long pid, int port, List<NettyStack.CurlResult> curls, Map<Integer, Conn> conns, List<Event> events,
            String hookedLine) {
    }

    /**
     * Runs the server on the netty of {@code nettyLib} and netty-tcnative {@code version} with the agent, waits until BoringSSL is
     * hooked, POSTs each body with its own curl (all at once), and stops the server.
     */
    private Run serve(Path nettyLib, String version, String agentOptions, List<String> bodies) throws Exception {
        Path[] cert = NettyStack.selfSignedCertificate(tmp);
        Path jsonl = tmp.resolve("events.jsonl");
        List<NettyStack.CurlResult> curls = new ArrayList<>();
        ChildJvm.Result r;
        int port;
        try (ChildJvm.Running server = new ChildJvm().classpath(NettyStack.nettyClasspath(nettyLib, version))
                .jvmArg("-Djava.io.tmpdir=" + tmp)
                .agent("sinks=jsonl,log,sink.jsonl.path=" + jsonl + ",watch.paths=" + agentOptions)
                .start(SERVER, List.of(cert[0].toString(), cert[1].toString()))) {
            port = Integer.parseInt(server.awaitPrinted("port", 60));
            server.awaitStderr(NettyStack.HOOKED, 60);
            server.awaitStderr(WildflyCaptureIT.READY, 60); // and woven: identity for every connection
            List<Process> running = new ArrayList<>();
            for (int i = 0; i < bodies.size(); i++) {
                running.add(NettyStack.startCurlPost(port, bodies.get(i), tmp.resolve("curl" + i)));
            }
            for (int i = 0; i < bodies.size(); i++) {
                curls.add(NettyStack.finishCurl(running.get(i), tmp.resolve("curl" + i)));
            }
            r = server.finish(60);
        }
        r.agentLines().forEach(System.out::println);
        assertEquals(0, r.exitCode(), "server failed:\n" + r.stderr());
        Map<Integer, Conn> conns = new LinkedHashMap<>();
        Map<Integer, byte[]> received = new LinkedHashMap<>();
        for (String line : r.stdout().lines().toList()) {
            String[] f = line.split(" ");
            if (f.length == 4 && f[0].equals("conn")) {
                int clientPort = Integer.parseInt(f[1].substring(f[1].lastIndexOf(':') + 1));
                byte[] bytes = Base64.getDecoder().decode(f[3]);
                if (f[2].equals("received")) {
                    received.put(clientPort, bytes);
                } else {
                    conns.put(clientPort, new Conn(received.get(clientPort), bytes));
                }
            }
        }
        String hooked = r.agentLines().stream().filter(l -> l.contains(NettyStack.HOOKED)).findFirst().orElseThrow();
        return new Run(r.pid(), port, curls, conns, CapturedEvents.read(jsonl), hooked);
    }

    static Map<String, List<Event>> bySsl(List<Event> events) {
        Map<String, List<Event>> m = new LinkedHashMap<>();
        for (Event e : events) {
            m.computeIfAbsent(e.str("ssl"), k -> new ArrayList<>()).add(e);
        }
        return m;
    }

    /** An HTTP message's body: what follows the blank line after the headers. */
    private static byte[] bodyOf(byte[] request) {
        String s = new String(request, StandardCharsets.ISO_8859_1);
        return s.substring(s.indexOf("\r\n\r\n") + 4).getBytes(StandardCharsets.ISO_8859_1);
    }
}
