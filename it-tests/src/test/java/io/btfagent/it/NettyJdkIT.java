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
import org.junit.jupiter.params.provider.ValueSource;

/**
 * netty 4.2 with its JDK provider (SslProvider.JDK: the JDK's SSLEngine, wrapped by netty; or
 * Conscrypt's, wrapped by netty and by Conscrypt) as an HTTPS server, curl as the client: every
 * byte captured once, in Java, on the event loop's thread, with the channel's addresses netty's
 * woven SslHandler reported for the wrapped engine.
 */
@Privileged
class NettyJdkIT {
    private static final String SERVER = "io.btfagent.netty.NettyHttpsServer";

    @TempDir
    Path tmp;

    @ParameterizedTest
    @ValueSource(strings = {"jdk", "conscrypt"})
    void eachConnectionIsCapturedOnceWithTheChannelsAddressesAndExactBytes(String provider) throws Exception {
        Path[] cert = NettyStack.selfSignedCertificate(tmp);
        Path jsonl = tmp.resolve("events.jsonl");
        List<String> bodies = List.of("first body", "second, longer body " + "x".repeat(3000));
        List<NettyStack.CurlResult> curls = new ArrayList<>();
        ChildJvm.Result r;
        int port;
        try (ChildJvm.Running server = new ChildJvm()
                .classpath(NettyStack.nettyClasspath(NettyStack.NETTY_LIB, NettyStack.TCNATIVE_VERSION)
                        + (provider.equals("conscrypt") ? ":" + Path.of(System.getProperty("conscrypt.lib"),
                                "conscrypt-openjdk-uber-" + System.getProperty("conscrypt.version") + ".jar") : ""))
                .agent("sinks=jsonl,sink.jsonl.path=" + jsonl + ",stats.interval=0")
                .start(SERVER, List.of(cert[0].toString(), cert[1].toString(), provider))) {
            port = Integer.parseInt(server.awaitPrinted("port", 60));
            server.awaitStderr(WildflyCaptureIT.READY, 60);
            for (int i = 0; i < bodies.size(); i++) { // one after the other: two connections
                Process p = NettyStack.startCurlPost(port, bodies.get(i), tmp.resolve("curl" + i));
                curls.add(NettyStack.finishCurl(p, tmp.resolve("curl" + i)));
            }
            r = server.finish(60);
        }
        r.agentLines().forEach(System.out::println);
        assertEquals(0, r.exitCode(), "server failed:\n" + r.stderr());
        Map<Integer, byte[][]> printed = new LinkedHashMap<>();
        for (String line : r.stdout().lines().toList()) {
            String[] f = line.split(" ");
            if (f.length == 4 && f[0].equals("conn")) {
                int clientPort = Integer.parseInt(f[1].substring(f[1].lastIndexOf(':') + 1));
                printed.computeIfAbsent(clientPort, k -> new byte[2][])[f[2].equals("received") ? 0 : 1] =
                        Base64.getDecoder().decode(f[3]);
            }
        }
        List<Event> events = CapturedEvents.read(jsonl);
        Map<Long, List<Event>> byConn = new LinkedHashMap<>();
        for (Event e : events) {
            assertEquals("jsse", e.str("lib"), "only JSSE in this JVM: " + e.fields());
            if (provider.equals("conscrypt")) {
                assertEquals(System.getProperty("conscrypt.version"), e.str("libVersion"));
            }
            byConn.computeIfAbsent(e.num("conn"), k -> new ArrayList<>()).add(e);
        }
        assertEquals(2, byConn.size(), byConn.keySet().toString());
        for (int i = 0; i < curls.size(); i++) {
            NettyStack.CurlResult c = curls.get(i);
            byte[][] sides = printed.get(c.localPort());
            assertTrue(sides != null && sides[1] != null, "the server's record of curl " + c.localPort());
            assertArrayEquals(NettyHttpsServer.response(bodies.get(i).getBytes(StandardCharsets.ISO_8859_1)), sides[1]);
            List<Event> conn = byConn.values().stream()
                    .filter(l -> ("127.0.0.1:" + c.localPort()).equals(l.get(0).str("remote"))).findFirst()
                    .orElseThrow(() -> new AssertionError("no connection from curl " + c.localPort() + ": "
                            + events.stream().map(e -> e.str("remote")).distinct().toList()));
            for (Event e : conn) {
                assertEquals("server", e.str("role"));
                assertEquals("127.0.0.1:" + port, e.str("local"));
                assertEquals("127.0.0.1:" + c.localPort(), e.str("remote"));
                assertEquals(e.egress() ? "SSLEngine.wrap" : "SSLEngine.unwrap", e.str("func"));
                assertTrue(e.str("thread").startsWith("multiThreadIoEventLoopGroup-"), e.str("thread"));
                assertEquals(r.pid(), e.num("pid"));
            }
            assertArrayEquals(sides[0], CapturedEvents.stream(conn, false), "what the server read");
            assertArrayEquals(sides[1], CapturedEvents.stream(conn, true), "what the server wrote");
            assertArrayEquals(bodyOf(sides[1]), c.body(), "curl got what the server sent");
        }
    }

    private static byte[] bodyOf(byte[] message) {
        String s = new String(message, StandardCharsets.ISO_8859_1);
        return s.substring(s.indexOf("\r\n\r\n") + 4).getBytes(StandardCharsets.ISO_8859_1);
    }
}
