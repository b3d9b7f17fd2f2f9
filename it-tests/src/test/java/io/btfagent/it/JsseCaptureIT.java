package io.btfagent.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.btfagent.demo.TlsEchoServer;
import io.btfagent.demo.WildflyHttpsClient;
import io.btfagent.it.CapturedEvents.Event;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The JDK's own TLS (JSSE) captured in the JVM: a JSSE HTTPS server ({@link TlsEchoServer}, an
 * SSLSocket) and, in the same JVM, clients made with {@code java.net.http.HttpClient} (an
 * SSLEngine), {@code HttpsURLConnection} (an SSLSocket) and wildfly-openssl (native: the probes'),
 * driven by {@code io.btfagent.demo.JsseClients}. Exact bytes both ways on both ends, each
 * connection's identity, counters, and no byte captured twice.
 */
@Privileged
class JsseCaptureIT {
    private static final String CLIENT = "io.btfagent.demo.JsseClients";
    private static final String HOST = "127.0.0.1";

    /** The child JVM's java.version, which JSSE events carry as libVersion. */
    private static String javaVersion;

    @TempDir
    Path tmp;

    @BeforeAll
    static void childJavaVersion() throws Exception {
        Process p = new ProcessBuilder(ChildJvm.JAVA, "-XshowSettings:properties", "-version").redirectErrorStream(true)
                .start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        p.waitFor();
        javaVersion = out.lines().map(String::trim).filter(l -> l.startsWith("java.version = ")).findFirst()
                .orElseThrow().substring("java.version = ".length());
    }

    /** One run of the clients: its result, events and stats line. */
    private record Run(ChildJvm.Result result, List<Event> events, int serverPort) {
        AgentStats stats() {
            return AgentStats.of(result);
        }

        /** Events by conn, in file order. */
        Map<Long, List<Event>> byConn() {
            Map<Long, List<Event>> m = new LinkedHashMap<>();
            for (Event e : events) {
                m.computeIfAbsent(e.num("conn"), k -> new ArrayList<>()).add(e);
            }
            return m;
        }
    }

    private Run run(String mode, String path, int requests, String options) throws Exception {
        Path jsonl = tmp.resolve(mode + ".jsonl");
        ChildJvm.Result r = new ChildJvm().agent("sinks=jsonl,sink.jsonl.path=" + jsonl + ",stats.interval=0" + options)
                .runWhenReady(CLIENT, List.of(mode, path, String.valueOf(requests)), 180, "traffic",
                        List.of(WildflyCaptureIT.READY));
        assertEquals(0, r.exitCode(), "clients failed:\n" + r.stdout() + r.stderr());
        assertEquals("true", r.printed().get("body-ok"), r.stdout());
        System.out.println(String.join("\n", r.agentLines()));
        return new Run(r, CapturedEvents.read(jsonl), Integer.parseInt(r.printed().get("server-port")));
    }

    private static byte[] stream(List<Event> events, boolean egress) {
        return CapturedEvents.stream(events, egress);
    }

    private static Set<String> values(List<Event> events, String key) {
        Set<String> s = new HashSet<>();
        for (Event e : events) {
            Object v = e.fields().get(key);
            s.add(v == null ? null : String.valueOf(v));
        }
        return s;
    }

    /**
     * Each JSSE server connection: role server, the listening address as local, the client's as
     * remote, its worker thread's name (which carries the client's port), SSLSocket calls only;
     * it read what its client wrote and wrote {@code response}. Returns the connections by the
     * client's address.
     */
    private Map<String, List<Event>> checkServers(Run run, List<List<Event>> servers, byte[] response) {
        Map<String, List<Event>> byClient = new LinkedHashMap<>();
        for (List<Event> s : servers) {
            String remote = s.get(0).str("remote");
            assertTrue(remote.startsWith(HOST + ":"), remote);
            assertEquals(Set.of("server"), values(s, "role"));
            assertEquals(Set.of(HOST + ":" + run.serverPort()), values(s, "local"));
            assertEquals(Set.of(remote), values(s, "remote"));
            assertEquals(Set.of("tls-echo-conn-" + remote.substring(remote.indexOf(':') + 1)), values(s, "thread"));
            assertEquals(Set.of("SSLSocket.read", "SSLSocket.write"), values(s, "func"));
            assertArrayEquals(response, stream(s, true));
            byClient.put(remote, s);
        }
        return byClient;
    }

    private void checkCommon(Run run) {
        long bytes = 0;
        for (Event e : run.events()) {
            if (!e.str("lib").equals("jsse")) {
                continue;
            }
            assertEquals(javaVersion, e.str("libVersion"));
            assertEquals(run.result().pid(), e.num("pid"));
            assertTrue(e.num("tid") > 0, e.fields().toString());
            assertEquals(0, e.num("offset"));
            assertEquals(e.num("len"), e.num("captured"));
            assertEquals(false, e.bool("truncated"));
            assertEquals(null, e.fields().get("fd"));
            assertEquals(e.egress() ? "egress" : "ingress", e.str("dir"));
            bytes += e.num("len");
        }
        long jsseEvents = run.events().stream().filter(e -> e.str("lib").equals("jsse")).count();
        AgentStats s = run.stats();
        @SuppressWarnings("unchecked")
        Map<String, Object> jsse = (Map<String, Object>) s.fields().get("jsse");
        assertEquals(jsseEvents, jsse.get("calls"), s.toString());
        assertEquals(jsseEvents, jsse.get("events"), s.toString());
        assertEquals(bytes, jsse.get("bytes"), s.toString());
        assertEquals(0L, jsse.get("bytes_truncated"), s.toString());
        assertEquals((long) run.events().size(), s.sink("jsonl", "delivered"));
        assertEquals(0L, s.sink("jsonl", "dropped"));
    }

    @Test
    void httpClientOverAnEngineToASocketServerEachByteOnceOnEachEndWithIdentity() throws Exception {
        String path = "/bytes/300";
        Run run = run("httpclient", path, 2, "");
        checkCommon(run);
        Map<Long, List<Event>> conns = run.byConn();
        assertEquals(4, conns.size(), "two connections, each seen from both ends: " + conns.keySet());
        List<List<Event>> clients = new ArrayList<>();
        List<List<Event>> servers = new ArrayList<>();
        for (List<Event> c : conns.values()) {
            (c.get(0).str("role").equals("client") ? clients : servers).add(c);
        }
        Map<String, List<Event>> serverByClient = checkServers(run, servers, TlsEchoServer.responseFor(path));
        assertEquals(2, clients.size());
        for (List<Event> c : clients) {
            assertEquals(Set.of("SSLEngine.wrap", "SSLEngine.unwrap"), values(c, "func"));
            assertEquals(Set.of("client"), values(c, "role"));
            String local = c.get(0).str("local");
            assertEquals(Set.of(local), values(c, "local"));
            assertEquals(Set.of(HOST + ":" + run.serverPort()), values(c, "remote"));
            assertTrue(c.get(0).str("thread").startsWith("HttpClient-"), c.get(0).str("thread"));
            List<Event> server = serverByClient.get(local);
            assertTrue(server != null, "the server connection of client " + local + ": " + serverByClient.keySet());
            byte[] request = stream(c, true);
            assertTrue(new String(request, StandardCharsets.ISO_8859_1).startsWith("GET " + path + " HTTP/1.1\r\n"),
                    new String(request, StandardCharsets.ISO_8859_1));
            assertArrayEquals(request, stream(server, false), "what the client wrote is what the server read");
            assertArrayEquals(TlsEchoServer.responseFor(path), stream(c, false));
        }
    }

    @Test
    void httpsUrlConnectionSocketToSocketWithMirroredAddresses() throws Exception {
        String path = "/";
        Run run = run("urlconnection", path, 1, "");
        checkCommon(run);
        Map<Long, List<Event>> conns = run.byConn();
        assertEquals(2, conns.size(), conns.keySet().toString());
        List<Event> client = null;
        List<Event> server = null;
        for (List<Event> c : conns.values()) {
            if (c.get(0).str("role").equals("client")) {
                client = c;
            } else {
                server = c;
            }
        }
        checkServers(run, List.of(server), TlsEchoServer.responseFor(path));
        assertEquals(Set.of("main"), values(client, "thread"));
        assertEquals(Set.of("SSLSocket.read", "SSLSocket.write"), values(client, "func"));
        assertEquals(server.get(0).str("remote"), client.get(0).str("local"));
        assertEquals(server.get(0).str("local"), client.get(0).str("remote"));
        assertArrayEquals(stream(client, true), stream(server, false));
        assertTrue(new String(stream(client, true), StandardCharsets.ISO_8859_1).startsWith("GET / HTTP/1.1\r\n"));
        assertArrayEquals(TlsEchoServer.responseFor(path), stream(client, false));
    }

    @Test
    void bytesBeyondMaxBytesAreCountedSoCapturedPlusTruncatedIsEveryByte() throws Exception {
        String path = "/bytes/100000";
        Run run = run("urlconnection", path, 1, ",capture.max-bytes=100");
        long len = 0;
        long captured = 0;
        long truncatedCalls = 0;
        ByteArrayOutputStream heads = new ByteArrayOutputStream();
        for (Event e : run.events()) {
            assertEquals(Math.min(100, e.num("len")), e.num("captured"));
            assertEquals(e.num("len") > 100, e.bool("truncated"));
            assertEquals(e.num("captured"), e.data().length);
            len += e.num("len");
            captured += e.num("captured");
            truncatedCalls += e.bool("truncated") ? 1 : 0;
            if (e.str("role").equals("server") && e.egress()) {
                heads.writeBytes(e.data());
            }
        }
        byte[] response = TlsEchoServer.responseFor(path);
        // the server wrote its response in one call: its first 100 bytes are kept
        assertArrayEquals(java.util.Arrays.copyOf(response, 100), heads.toByteArray());
        @SuppressWarnings("unchecked")
        Map<String, Object> jsse = (Map<String, Object>) run.stats().fields().get("jsse");
        assertTrue(truncatedCalls > 0);
        assertEquals(truncatedCalls, jsse.get("calls_truncated"));
        assertEquals(len, jsse.get("bytes"));
        assertEquals(len - captured, jsse.get("bytes_truncated"));
        assertEquals(len, captured + run.stats().counter("bytes_truncated"), "captured + truncated = transferred");
    }

    @Test
    void aNativeEngineIsCapturedOnceByTheProbesAndItsJsseServerOnceInJava() throws Exception {
        String path = "/bytes/300";
        Run run = run("wildfly", path, 2, "");
        checkCommon(run);
        List<Event> openssl = new ArrayList<>();
        List<Event> jsse = new ArrayList<>();
        for (Event e : run.events()) {
            (e.str("lib").equals("openssl") ? openssl : jsse).add(e);
        }
        assertEquals(Set.of("jsse"), values(jsse, "lib"));
        // wildfly's engine (an SSLEngine over libssl) is not JSSE's: none of its calls is a jsse event
        assertEquals(Set.of("server"), values(jsse, "role"));
        assertEquals(Set.of("SSLSocket.read", "SSLSocket.write"), values(jsse, "func"));
        assertEquals(Set.of("client"), values(openssl, "role"));
        Set<String> nativeConns = values(openssl, "conn");
        Set<String> jsseConns = values(jsse, "conn");
        assertEquals(2, nativeConns.size());
        assertEquals(2, jsseConns.size());
        Set<String> all = new HashSet<>(nativeConns);
        all.addAll(jsseConns);
        assertEquals(4, all.size(), "one numbering for native and JSSE connections: " + nativeConns + " " + jsseConns);
        byte[] request = WildflyHttpsClient.request(HOST, run.serverPort(), path);
        byte[] response = TlsEchoServer.responseFor(path);
        ByteArrayOutputStream twice = new ByteArrayOutputStream();
        twice.writeBytes(request);
        twice.writeBytes(request);
        assertArrayEquals(twice.toByteArray(), stream(openssl, true));
        assertArrayEquals(twice.toByteArray(), stream(jsse, false));
        twice.reset();
        twice.writeBytes(response);
        twice.writeBytes(response);
        assertArrayEquals(twice.toByteArray(), stream(openssl, false));
        assertArrayEquals(twice.toByteArray(), stream(jsse, true));
        // each native connection's addresses are the mirror of one JSSE server connection's
        for (String conn : nativeConns) {
            List<Event> c = openssl.stream().filter(e -> String.valueOf(e.num("conn")).equals(conn)).toList();
            String local = c.get(0).str("local");
            assertTrue(jsse.stream().anyMatch(e -> local.equals(e.str("remote"))), local + " among " + values(jsse,
                    "remote"));
        }
    }
}
