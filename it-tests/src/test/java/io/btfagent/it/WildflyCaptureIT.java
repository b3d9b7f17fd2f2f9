package io.btfagent.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
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
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * End to end through wildfly-openssl: a JVM with the agent does HTTPS through the system's
 * OpenSSL 3 (memory BIO pair, driven from Java) to a JSSE server in this JVM, whose TLS never
 * touches libssl; the agent's JSONL must hold the exact plaintext.
 */
@Privileged
class WildflyCaptureIT extends AgainstEchoServer {
    private static final String CLIENT = "io.btfagent.demo.WildflyHttpsClient";
    private static final int MIB = 1 << 20;

    /** The agent's log line once a library's probes are attached. */
    static final String HOOKED = "INFO  hooked openssl";
    /** Logged once the first scan has hooked what it found and the TLS stacks are woven. */
    static final String READY = "INFO  capture ready";

    /** The agent's log line when nothing is hookable yet. */
    static final String WATCHING = "no hookable TLS library mapped";

    private List<Event> capture(String agentOptions, String path, int repeat, ChildJvm.Result[] result)
            throws Exception {
        return capture(agentOptions, path, repeat, result, "traffic", List.of(READY));
    }

    private List<Event> capture(String agentOptions, String path, int repeat, ChildJvm.Result[] result,
            String phases, List<String> markers) throws Exception {
        Path jsonl = tmp.resolve("events.jsonl");
        ChildJvm.Result r = new ChildJvm().agent("sinks=jsonl,sink.jsonl.path=" + jsonl + agentOptions)
                .runWhenReady(CLIENT, List.of(HOST, String.valueOf(server.port()), path, String.valueOf(repeat)), 120,
                        phases, markers);
        assertEquals(0, r.exitCode(), "client failed:\n" + r.stderr());
        if (result != null) {
            result[0] = r;
        }
        return CapturedEvents.read(jsonl);
    }

    @Test
    void requestAndResponseAreCapturedExactlyAndInOrder() throws Exception {
        ChildJvm.Result[] r = new ChildJvm.Result[1];
        List<Event> events = capture("", "/", 1, r);

        byte[] request = WildflyHttpsClient.request(HOST, server.port(), "/");
        byte[] response = TlsEchoServer.responseFor("/");
        assertEquals(2, events.size(), "one SSL_write and one SSL_read, got " + events);
        Event out = events.get(0);
        Event in = events.get(1);
        assertEquals("egress", out.str("dir"));
        assertEquals("SSL_write", out.str("func"));
        assertArrayEquals(request, out.data());
        assertEquals(request.length, out.num("len"));
        assertEquals("ingress", in.str("dir"));
        assertEquals("SSL_read", in.str("func"));
        assertArrayEquals(response, in.data());
        assertEquals(response.length, in.num("len"));
        String version = systemOpensslVersion();
        for (Event e : events) {
            assertEquals("openssl", e.str("lib"));
            assertEquals(version, e.str("libVersion"));
            assertEquals(ChildJvm.LIBSSL_DIR + "/libssl.so.3", e.str("libPath"));
            assertEquals(r[0].pid(), e.num("pid"));
            assertEquals(-1, e.num("fd"), "wildfly drives OpenSSL through a memory BIO pair");
            assertEquals(0, e.num("offset"));
            assertEquals(e.num("len"), e.num("captured"));
            assertFalse(e.bool("truncated"));
            assertTrue(e.str("ssl").matches("0x[0-9a-f]+"), e.str("ssl"));
        }
        assertEquals(out.str("ssl"), in.str("ssl"), "both calls are on one connection");
        assertTrue(out.str("ts").compareTo(in.str("ts")) <= 0, "timestamps in order");
        assertClientIdentity(events, r[0].stdout(), server.port());
    }

    @Test
    void everyConnectionHasItsOwnConnAndAddresses() throws Exception {
        ChildJvm.Result[] r = new ChildJvm.Result[1];
        List<Event> events = capture("", "/", 3, r);

        // the client prints each connection's local port before its request-sha256 line
        List<String> ports = r[0].stdout().lines().filter(l -> l.startsWith("local-port ")).map(l -> l.substring(11))
                .toList();
        assertEquals(3, ports.size(), r[0].stdout());
        assertEquals(6, events.size(), "three requests and three responses: " + events);
        java.util.Set<Long> conns = new java.util.LinkedHashSet<>();
        for (int i = 0; i < 3; i++) {
            Event out = events.get(2 * i);
            Event in = events.get(2 * i + 1);
            assertEquals(out.num("conn"), in.num("conn"), "request and response of one connection");
            conns.add(out.num("conn"));
            for (Event e : List.of(out, in)) {
                assertEquals("127.0.0.1:" + ports.get(i), e.str("local"), e.fields().toString());
                assertEquals("127.0.0.1:" + server.port(), e.str("remote"), e.fields().toString());
            }
        }
        assertEquals(3, conns.size(), "three connections, three conns: " + conns);
    }

    @Test
    void anEngineOfAnotherShapeLeavesCaptureWithoutIdentityInOneLineAndTheAppUnchanged() throws Exception {
        // wildfly-openssl with OpenSSLEngine's field 'ssl' renamed 'zsl' throughout the class: a
        // working library whose shape the agent does not know
        Path jar = renamedSslField(tmp.resolve("wildfly-renamed.jar"));
        String cp = String.join(":", java.util.Arrays.stream(ChildJvm.CLASSPATH.split(":"))
                .map(e -> e.contains("wildfly-openssl") ? jar.toString() : e).toList());
        List<String> args = List.of(HOST, String.valueOf(server.port()), "/", "1");
        ChildJvm.Result without = new ChildJvm().classpath(cp).run(CLIENT, args, 120);
        Path jsonl = tmp.resolve("events.jsonl");
        ChildJvm.Result with = new ChildJvm().classpath(cp).agent("sinks=jsonl,sink.jsonl.path=" + jsonl)
                .runWhenReady(CLIENT, args, 120, "traffic", List.of(READY));

        assertEquals(0, without.exitCode(), without.stderr());
        assertEquals(without.exitCode(), with.exitCode());
        assertEquals(without.comparableStdout(), with.comparableStdout());
        assertEquals(without.comparableStderr(), with.comparableStderr());
        List<String> identity = with.agentLines().stream().filter(l -> l.contains("WARN") && l.contains("identity:")).toList();
        assertEquals(1, identity.size(), "one identity warning: " + with.agentLines());
        assertTrue(identity.get(0).contains("WARN") && identity.get(0).contains("wildfly-openssl")
                && identity.get(0).contains("ssl"), identity.get(0));

        List<Event> events = CapturedEvents.read(jsonl);
        assertArrayEquals(WildflyHttpsClient.request(HOST, server.port(), "/"), CapturedEvents.stream(events, true));
        assertArrayEquals(TlsEchoServer.responseFor("/"), CapturedEvents.stream(events, false));
        for (Event e : events) {
            assertTrue(e.num("conn") > 0, "conn comes from the kernel, whatever the JVM side knows: " + e.fields());
            assertEquals(null, e.str("role"), e.fields().toString());
            assertEquals(null, e.str("local"), e.fields().toString());
            assertEquals(null, e.str("remote"), e.fields().toString());
            assertEquals("java", e.str("thread"), "the OS name: " + e.fields());
        }
    }

    /** A copy of the wildfly-openssl jar whose OpenSSLEngine calls its field 'ssl' 'zsl'. */
    static Path renamedSslField(Path target) throws IOException {
        Path original = Path.of(java.util.Arrays.stream(ChildJvm.CLASSPATH.split(":"))
                .filter(e -> e.contains("wildfly-openssl")).findFirst().orElseThrow());
        String engine = "org/wildfly/openssl/OpenSSLEngine.class";
        try (java.util.zip.ZipFile in = new java.util.zip.ZipFile(original.toFile());
                java.util.zip.ZipOutputStream out = new java.util.zip.ZipOutputStream(Files.newOutputStream(target))) {
            for (java.util.zip.ZipEntry e : java.util.Collections.list(in.entries())) {
                byte[] b = in.getInputStream(e).readAllBytes();
                if (e.getName().equals(engine)) {
                    // the constant pool's one UTF-8 entry "ssl" (tag 1, length 3): field name everywhere
                    byte[] utf8 = {1, 0, 3, 's', 's', 'l'};
                    int at = Libraries.indexOf(b, utf8, 0);
                    assertTrue(at > 0 && Libraries.indexOf(b, utf8, at + 1) < 0, "one 'ssl' constant");
                    b[at + 3] = 'z';
                }
                out.putNextEntry(new java.util.zip.ZipEntry(e.getName()));
                out.write(b);
                out.closeEntry();
            }
        }
        return target;
    }

    /**
     * A wildfly-openssl client's events carry one conn, role client, the addresses of the
     * connection the client printed ({@code local-port}) and the Java name of its thread.
     */
    static void assertClientIdentity(List<Event> events, String stdout, int serverPort) {
        String localPort = ChildJvm.printedValues(stdout).get("local-port");
        assertTrue(localPort != null && localPort.matches("\\d+"), "the client printed its local port:\n" + stdout);
        long conn = events.get(0).num("conn");
        assertTrue(conn > 0, "a conn id: " + events.get(0).fields());
        for (Event e : events) {
            assertEquals(conn, e.num("conn"), "one connection, one conn: " + e.fields());
            assertEquals("client", e.str("role"), e.fields().toString());
            assertEquals("127.0.0.1:" + localPort, e.str("local"), e.fields().toString());
            assertEquals("127.0.0.1:" + serverPort, e.str("remote"), e.fields().toString());
            assertEquals("main", e.str("thread"), "the Java thread's name (its OS name is 'java'): " + e.fields());
        }
    }

    @Test
    void libsslMappedAfterStartIsFoundByTheRescan() throws Exception {
        // No watched directories: only the periodic /proc/self/maps scan can find libssl, which
        // wildfly maps when the client creates its SSLContext, after the agent has started.
        ChildJvm.Result[] r = new ChildJvm.Result[1];
        List<Event> events = capture(",watch.paths=,scan.interval-ms=200", "/", 1, r, "load,traffic",
                List.of(WATCHING, HOOKED));

        assertArrayEquals(WildflyHttpsClient.request(HOST, server.port(), "/"), CapturedEvents.stream(events, true));
        assertArrayEquals(TlsEchoServer.responseFor("/"), CapturedEvents.stream(events, false));
        // the line naming BPF features the kernel lacks (kernel.assume-missing) may come first
        List<String> agent = r[0].agentLines().stream().filter(l -> !l.contains(" lacks ")).toList();
        java.util.function.ToIntFunction<String> first = marker -> java.util.stream.IntStream.range(0, agent.size())
                .filter(i -> agent.get(i).contains(marker)).findFirst().orElse(-1);
        int watching = first.applyAsInt(WATCHING);
        int hooked = first.applyAsInt(HOOKED);
        assertTrue(watching == 0 && hooked > watching, "watching first, hooked after it: " + String.join("\n", agent));
    }

    @Test
    void oneMebibyteResponseArrivesCompleteAndInOrder() throws Exception {
        String path = "/bytes/" + MIB;
        List<Event> events = capture(",capture.max-bytes=2097152", path, 1, null);

        assertArrayEquals(TlsEchoServer.responseFor(path), CapturedEvents.stream(events, false));
        List<List<Event>> calls = calls(events, false);
        boolean split = false;
        for (List<Event> call : calls) {
            long expectedOffset = 0;
            for (Event e : call) {
                assertEquals(expectedOffset, e.num("offset"), "offsets within a call are contiguous");
                assertFalse(e.bool("truncated"));
                expectedOffset += e.num("captured");
            }
            assertEquals(call.get(0).num("len"), expectedOffset, "a call's records add up to its length");
            split |= call.size() > 1;
        }
        assertTrue(split, "some SSL_read returned more than one record holds, so was split");
    }

    @Test
    void callsBeyondMaxBytesKeepTheirFirst4096BytesAndSayTruncated() throws Exception {
        String path = "/bytes/" + MIB;
        List<Event> events = capture(",capture.max-bytes=4096", path, 1, null);

        byte[] response = TlsEchoServer.responseFor(path);
        int position = 0;
        int truncatedCalls = 0;
        for (List<Event> call : calls(events, false)) {
            assertEquals(1, call.size(), "4096 bytes fit one record");
            Event e = call.get(0);
            long len = e.num("len");
            assertEquals(Math.min(len, 4096), e.num("captured"));
            assertEquals(len > 4096, e.bool("truncated"));
            assertArrayEquals(Arrays.copyOfRange(response, position, position + (int) e.num("captured")), e.data());
            truncatedCalls += e.bool("truncated") ? 1 : 0;
            position += (int) len;
        }
        assertEquals(response.length, position, "the calls' lengths add up to the whole response");
        assertTrue(truncatedCalls > 0, "some calls were larger than 4096 bytes");
    }

    @Test
    void anotherProcessUsingTheSameLibsslIsNeverCaptured() throws Exception {
        String marker = "OTHER-PROCESS-" + UUID.randomUUID();
        byte[] otherRequest = ("GET /" + marker + " HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                .getBytes(StandardCharsets.US_ASCII);
        List<Process> others = new ArrayList<>();
        List<Path> otherOutputs = new ArrayList<>();
        ChildJvm.Result[] r = new ChildJvm.Result[1];
        List<Event> events;
        try {
            // openssl s_client links the same libssl.so.3; start several so some overlap the capture.
            for (int i = 0; i < 4; i++) {
                Path in = tmp.resolve("other-" + i + ".in");
                Path out = tmp.resolve("other-" + i + ".out");
                Files.write(in, otherRequest);
                others.add(new ProcessBuilder("sh", "-c", "for i in 1 2 3 4 5 6 7 8 9 10; do openssl s_client -quiet "
                        + "-connect " + HOST + ":" + server.port() + " < " + in + "; sleep 0.2; done")
                        .redirectOutput(out.toFile()).redirectError(ProcessBuilder.Redirect.DISCARD).start());
                otherOutputs.add(out);
            }
            events = capture("", "/", 10, r);
        } finally {
            for (Process p : others) {
                if (!p.waitFor(60, TimeUnit.SECONDS)) {
                    p.descendants().forEach(ProcessHandle::destroyForcibly);
                    p.destroyForcibly();
                }
            }
        }
        for (Path out : otherOutputs) {
            assertTrue(Files.readString(out).contains("hello from btf-agent demo"),
                    "the other process really did TLS through libssl");
        }
        assertEquals(20, events.size(), "10 requests and 10 responses of the agent's own JVM");
        byte[] markerBytes = marker.getBytes(StandardCharsets.US_ASCII);
        for (Event e : events) {
            assertEquals(r[0].pid(), e.num("pid"));
            assertFalse(Libraries.indexOf(e.data(), markerBytes, 0) >= 0, "another process's bytes were captured");
        }
    }

    @Test
    void unprivilegedRunBehavesExactlyAsWithoutTheAgentAndWarnsOnce() throws Exception {
        // Everything the unprivileged JVM reads must be readable by nobody, wherever the checkout is.
        Path dir = Files.createDirectories(tmp.resolve("world-readable"));
        Path jar = Files.copy(ChildJvm.AGENT_JAR, dir.resolve("btf-agent.jar"));
        StringBuilder cp = new StringBuilder();
        for (String entry : ChildJvm.CLASSPATH.split(":")) {
            Path target = dir.resolve("cp" + cp.length());
            SuiteRoot.copyTree(Path.of(entry), target);
            cp.append(cp.length() == 0 ? "" : ":").append(target);
        }
        makeWorldReadable(tmp);
        List<String> asNobody = List.of("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                "--inh-caps=-all", "--");
        List<String> args = List.of(HOST, String.valueOf(server.port()), "/bytes/300", "2");

        ChildJvm.Result without = new ChildJvm().via(asNobody).classpath(cp.toString())
                .jvmArg("-Duser.home=" + dir).run(CLIENT, args, 120);
        ChildJvm.Result with = new ChildJvm().via(asNobody).classpath(cp.toString()).agentJar(jar)
                .agent("sinks=jsonl,sink.jsonl.path=" + dir.resolve("never.jsonl"))
                .jvmArg("-Duser.home=" + dir).run(CLIENT, args, 120);

        assertEquals(0, without.exitCode(), without.stderr());
        assertEquals(without.exitCode(), with.exitCode());
        assertEquals(without.comparableStdout(), with.comparableStdout());
        assertEquals(without.comparableStderr(), with.comparableStderr());
        assertEquals(1, with.agentLines().size(), "exactly one agent line: " + with.agentLines());
        String warning = with.agentLines().get(0);
        assertTrue(warning.contains("WARN") && warning.contains("CAP_BPF") && warning.contains("root"), warning);
        assertFalse(Files.exists(dir.resolve("never.jsonl")), "no sink starts without capture");
    }

    /** Groups one direction's records into calls: a record at offset 0 starts a call. */
    private static List<List<Event>> calls(List<Event> events, boolean egress) {
        List<List<Event>> calls = new ArrayList<>();
        for (Event e : events) {
            if (e.egress() != egress) {
                continue;
            }
            if (e.num("offset") == 0) {
                calls.add(new ArrayList<>());
            }
            calls.get(calls.size() - 1).add(e);
        }
        assertFalse(calls.isEmpty(), "no " + (egress ? "egress" : "ingress") + " events");
        return calls;
    }

    /** The OpenSSL version the system reports, e.g. 3.0.19: an oracle independent of the agent. */
    static String systemOpensslVersion() throws IOException, InterruptedException {
        Process p = new ProcessBuilder("openssl", "version").redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        p.waitFor();
        return out.split(" ")[1];
    }

    private static void makeWorldReadable(Path root) throws IOException {
        try (var s = Files.walk(root)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                p.toFile().setReadable(true, false);
                if (Files.isDirectory(p)) {
                    p.toFile().setExecutable(true, false);
                    p.toFile().setWritable(true, false);
                }
            }
        }
    }
}
