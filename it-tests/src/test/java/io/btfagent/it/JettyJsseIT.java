package io.btfagent.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.btfagent.it.CapturedEvents.Event;
import io.btfagent.jetty.JettyHttpsServer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Jetty 12 as an HTTPS server on the JDK's TLS (its SslConnection drives an SSLEngine), with the
 * JDK's HttpClient posting to it over HTTP/1.1 and HTTP/2 in the same JVM: each connection is
 * seen from both ends, what one end wrote is exactly what the other read, the server's
 * connections carry the addresses of Jetty's endpoint (its woven SslConnection's), the
 * {@code Authorization} values reach no sink, and the application's results are the same as
 * without the agent.
 */
@Privileged
class JettyJsseIT {
    private static final String SERVER = "io.btfagent.jetty.JettyHttpsServer";
    private static final int REQUESTS = 2;

    @TempDir
    Path tmp;

    /** The demo classes, Jetty's jars and the slf4j-api Jetty logs through (no provider: silent). */
    private static String classpath() throws Exception {
        String slf4j = Stream.of(System.getProperty("conflict.classpath").split(":"))
                .filter(p -> Path.of(p).getFileName().toString().startsWith("slf4j-api-")).findFirst().orElseThrow();
        try (Stream<Path> jars = Files.list(Path.of(System.getProperty("jetty.lib")))) {
            return ChildJvm.CLASSPATH + ":" + slf4j + ":"
                    + jars.map(Path::toString).sorted().collect(Collectors.joining(":"));
        }
    }

    @Test
    void http1AndHttp2ToJettyAreCapturedOnceOnEachEndWithAddressesAndMaskedCredentials() throws Exception {
        Path jsonl = tmp.resolve("events.jsonl");
        String cp = classpath();
        ChildJvm.Result with = new ChildJvm().classpath(cp)
                .agent("sinks=jsonl,sink.jsonl.path=" + jsonl + ",stats.interval=0")
                .runWhenReady(SERVER, List.of(String.valueOf(REQUESTS)), 180, "traffic",
                        List.of(WildflyCaptureIT.READY));
        with.agentLines().forEach(System.out::println);
        ChildJvm.Result without = new ChildJvm().classpath(cp).run(SERVER, List.of(String.valueOf(REQUESTS)), 180);
        assertEquals(0, with.exitCode(), "with the agent:\n" + with.stdout() + with.stderr());
        assertEquals(0, without.exitCode(), "without the agent:\n" + without.stdout() + without.stderr());
        assertEquals("true", with.printed().get("results-ok"), with.stdout());
        assertEquals(without.stdout().replaceFirst("port \\d+", ""), with.stdout().replaceFirst("port \\d+", ""),
                "the application's results are the same with the agent");
        assertTrue(with.agentLines().stream().noneMatch(l -> l.contains("Jetty not woven")), with.stderr());
        String port = with.printed().get("port");
        String server = "127.0.0.1:" + port;

        String file = Files.readString(jsonl);
        for (String protocol : List.of("h1", "h2")) {
            for (int i = 0; i < REQUESTS; i++) {
                String secret = JettyHttpsServer.token(protocol, i).substring("Bearer ".length());
                assertFalse(file.contains(secret), "no sink sees " + secret);
            }
        }
        List<Event> events = CapturedEvents.read(jsonl);
        Map<Long, List<Event>> byConn = new LinkedHashMap<>();
        for (Event e : events) {
            assertEquals("jsse", e.str("lib"), "only JSSE in this JVM: " + e.fields());
            assertEquals(e.egress() ? "SSLEngine.wrap" : "SSLEngine.unwrap", e.str("func"));
            assertEquals(e.num("len"), e.num("captured"));
            byConn.computeIfAbsent(e.num("conn"), k -> new ArrayList<>()).add(e);
        }
        // one HTTP/1.1 connection (keep-alive) and one HTTP/2 connection, each seen from both ends
        assertEquals(4, byConn.size(), byConn.keySet().toString());
        Map<String, List<Event>> servers = new LinkedHashMap<>();
        List<List<Event>> clients = new ArrayList<>();
        for (List<Event> conn : byConn.values()) {
            Event first = conn.get(0);
            assertNotNull(first.str("local"), "addresses of conn " + first.num("conn") + " " + first.str("role"));
            for (Event e : conn) {
                assertEquals(first.str("role"), e.str("role"));
                assertEquals(first.str("local"), e.str("local"));
                assertEquals(first.str("remote"), e.str("remote"));
            }
            if (first.str("role").equals("server")) {
                assertEquals(server, first.str("local"));
                assertTrue(conn.stream().allMatch(e -> e.str("thread").startsWith("qtp")), first.str("thread"));
                servers.put(first.str("remote"), conn);
            } else {
                assertEquals("client", first.str("role"));
                assertEquals(server, first.str("remote"));
                clients.add(conn);
            }
        }
        assertEquals(2, servers.size());
        Set<String> protocols = new HashSet<>();
        for (List<Event> client : clients) {
            List<Event> peer = servers.get(client.get(0).str("local"));
            assertNotNull(peer, "the server end of client " + client.get(0).str("local") + ": " + servers.keySet());
            byte[] sent = CapturedEvents.stream(client, true);
            byte[] received = CapturedEvents.stream(client, false);
            assertArrayEquals(sent, CapturedEvents.stream(peer, false), "what the client wrote is what Jetty read");
            assertArrayEquals(received, CapturedEvents.stream(peer, true), "what Jetty wrote is what the client read");
            String protocol = new String(sent, StandardCharsets.ISO_8859_1).startsWith("PRI * HTTP/2.0\r\n") ? "h2"
                    : "h1";
            protocols.add(protocol);
            for (int i = 0; i < REQUESTS; i++) {
                byte[] body = JettyHttpsServer.request(protocol, i);
                // the bodies are sent and answered once each (HTTP/2 may split them into frames:
                // looked for in HTTP/1.1 only)
                if (protocol.equals("h1")) {
                    assertEquals(1, occurrences(sent, body), protocol + " request " + i);
                    assertEquals(1, occurrences(received, JettyHttpsServer.response(body)), protocol + " response " + i);
                    String mask = "Authorization: " + "*".repeat(JettyHttpsServer.token(protocol, i).length()) + "\r\n";
                    assertTrue(occurrences(sent, mask.getBytes(StandardCharsets.ISO_8859_1)) >= 1, mask);
                }
            }
            if (protocol.equals("h1")) {
                assertTrue(new String(sent, StandardCharsets.ISO_8859_1).startsWith("POST /echo/0 HTTP/1.1\r\n"));
            } else {
                assertTrue(client.stream().anyMatch(e -> e.egress() && Boolean.TRUE.equals(e.fields().get("redacted"))),
                        "the HTTP/2 client's header blocks were masked");
            }
        }
        assertEquals(Set.of("h1", "h2"), protocols);
        @SuppressWarnings("unchecked")
        Map<String, Object> jsse = (Map<String, Object>) AgentStats.of(with).fields().get("jsse");
        assertEquals((long) events.size(), jsse.get("calls"));
        assertEquals(0L, AgentStats.of(with).sink("jsonl", "dropped"));
    }

    private static int occurrences(byte[] hay, byte[] needle) {
        int n = 0;
        for (int at = Libraries.indexOf(hay, needle, 0); at >= 0; at = Libraries.indexOf(hay, needle, at + 1)) {
            n++;
        }
        return n;
    }
}
