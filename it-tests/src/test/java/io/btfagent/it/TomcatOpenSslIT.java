package io.btfagent.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.btfagent.demo.TomcatOpenSslServer;
import io.btfagent.it.CapturedEvents.Event;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * Tomcat embedded with each of its OpenSSL engines, curl as the client: the FFM engine of Tomcat
 * 11 and of Tomcat 10.1 on JDK 25, and Tomcat 10.1's JNI engine on Debian's Tomcat Native
 * (libtcnative-1, linked to the system's libssl; Tomcat 11 no longer loads that version).
 * Two connections in flight at once, each request (ingress) and response (egress) captured
 * exactly, with role server, the addresses of that curl connection, and the Tomcat worker
 * thread's Java name. Tomcat 10.1 with its JSSE engine instead is captured the same way, in Java
 * ({@code lib} {@code jsse}), with the addresses its woven SecureNioChannel reports.
 */
@Privileged
class TomcatOpenSslIT {
    static final Path JDK25 = Path.of("/usr/lib/jvm/temurin-25-jdk-amd64/bin/java");
    private static final String TOMCAT_CLASSPATH = System.getProperty("tomcat.classpath");
    private static final String TOMCAT11_CLASSPATH = System.getProperty("tomcat11.classpath");

    @TempDir
    Path tmp;

    /** What one curl run sent and received. */
    record Curl(String name, byte[] request, byte[] response, int localPort) {
    }

    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"ffm 11", "ffm 10.1", "jni 10.1", "jsse 10.1"})
    void twoConcurrentCurlConnectionsAreCapturedExactlyWithTheirOwnConnAndAddresses(String engineAndTomcat)
            throws Exception {
        String engine = engineAndTomcat.split(" ")[0];
        boolean tomcat11 = engineAndTomcat.endsWith(" 11");
        boolean ffm = engine.equals("ffm");
        if (ffm) {
            assumeTrue(Files.isExecutable(JDK25), "Tomcat's FFM engine needs JDK 22+; " + JDK25 + " is not installed");
        }
        Path[] pem = ConnIdentityIT.certificate(tmp);
        Path jsonl = tmp.resolve("events.jsonl");
        Path out = tmp.resolve("server.out");
        Path err = tmp.resolve("server.err");
        List<String> command = new ArrayList<>(List.of(ffm ? JDK25.toString() : ChildJvm.JAVA,
                ffm ? "--enable-native-access=ALL-UNNAMED" : "-Djava.library.path=" + ChildJvm.LIBSSL_DIR,
                "-javaagent:" + ChildJvm.AGENT_JAR.toAbsolutePath() + "=sinks=jsonl,log,sink.jsonl.path=" + jsonl,
                "-cp", tomcat11 ? TOMCAT11_CLASSPATH : TOMCAT_CLASSPATH, "io.btfagent.demo.TomcatOpenSslServer", pem[0].toString(), pem[1].toString(),
                tmp.resolve("work").toString(), engine));
        Process server = new ProcessBuilder(command)
                .redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        List<Curl> curls = new ArrayList<>();
        int port;
        try {
            port = Integer.parseInt(awaitLine(server, out, "port ").substring(5).trim());
            String version = System.getProperty(tomcat11 ? "tomcat11.version" : "tomcat.version");
            assertEquals("tomcat " + version + ".0", awaitLine(server, out, "tomcat "), "the Tomcat that runs");
            System.out.println("Tomcat " + version + ", " + engine + " engine"); // names the lines below
            // Tomcat's FFM engine looks up "libssl.so" (libssl-dev); the JNI one needs libtcnative-1
            assertTrue(port > 0, "Tomcat's connector did not start:\n" + Files.readString(err));
            awaitLine(server, err, "[btf-agent]", WildflyCaptureIT.HOOKED);
            awaitLine(server, err, "[btf-agent]", WildflyCaptureIT.READY);
            List<Process> running = new ArrayList<>();
            List<String[]> names = List.of(new String[] {"alpha", "a"}, new String[] {"beta", "b"});
            for (String[] n : names) {
                byte[] body = body(n[0], 150_000);
                Files.write(tmp.resolve(n[0] + ".body"), body);
                // --limit-rate keeps both transfers going for about a second and a half, side by side
                running.add(new ProcessBuilder("curl", "-sk", "-v", "--http1.1", "--limit-rate", "100k",
                        "-H", "Expect:", "-H", "Content-Type: application/octet-stream",
                        "--data-binary", "@" + tmp.resolve(n[0] + ".body"),
                        "-D", tmp.resolve(n[0] + ".headers").toString(), "-o", tmp.resolve(n[0] + ".response").toString(),
                        "-w", "%{local_port}", "https://127.0.0.1:" + port + "/" + n[0])
                        .redirectOutput(tmp.resolve(n[0] + ".port").toFile())
                        .redirectError(tmp.resolve(n[0] + ".verbose").toFile()).start());
            }
            for (int i = 0; i < running.size(); i++) {
                Process c = running.get(i);
                String n = names.get(i)[0];
                assertTrue(c.waitFor(60, TimeUnit.SECONDS) && c.exitValue() == 0,
                        "curl " + n + " failed:\n" + Files.readString(tmp.resolve(n + ".verbose")));
                byte[] body = Files.readAllBytes(tmp.resolve(n + ".body"));
                byte[] response = concat(Files.readAllBytes(tmp.resolve(n + ".headers")),
                        Files.readAllBytes(tmp.resolve(n + ".response")));
                assertTrue(new String(response, StandardCharsets.ISO_8859_1).endsWith(
                        new String(TomcatOpenSslServer.responseBody(body), StandardCharsets.ISO_8859_1)), "the echo");
                curls.add(new Curl(n, concat(requestHead(tmp.resolve(n + ".verbose")), body), response,
                        Integer.parseInt(Files.readString(tmp.resolve(n + ".port")).trim())));
            }
        } finally {
            server.getOutputStream().close(); // the server stops; the agent drains and flushes at exit
            if (!server.waitFor(60, TimeUnit.SECONDS)) {
                server.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        }

        // for docs/: the agent's lines (the summary's identity figures) and the events
        Files.readAllLines(err).stream().filter(l -> l.startsWith("[btf-agent]"))
                .map(l -> l.length() > 600 ? l.substring(0, 600) + "..." : l).forEach(System.out::println);
        List<Event> events = CapturedEvents.read(jsonl);
        assertTrue(events.size() >= 4, "events: " + events + "\nagent:\n" + Files.readString(err));
        assertEquals(2, events.stream().map(e -> e.num("conn")).distinct().count(),
                "two connections, two conns: " + events);
        List<Long> conns = new ArrayList<>();
        for (Curl c : curls) {
            String remote = "127.0.0.1:" + c.localPort();
            List<Event> mine = events.stream().filter(e -> remote.equals(e.str("remote"))).toList();
            assertTrue(!mine.isEmpty(), "no events of " + c.name() + "'s connection " + remote + ": " + events);
            long conn = mine.get(0).num("conn");
            conns.add(conn);
            for (Event e : mine) {
                assertEquals(conn, e.num("conn"), e.fields().toString());
                assertEquals("server", e.str("role"), e.fields().toString());
                assertEquals("127.0.0.1:" + port, e.str("local"), e.fields().toString());
                if (engine.equals("jsse")) { // the JDK's own engine, captured in Java
                    assertEquals("jsse", e.str("lib"), e.fields().toString());
                    assertEquals(null, e.fields().get("fd"));
                } else {
                    assertEquals(-1, e.num("fd"));
                }
                assertTrue(e.str("thread").matches("https-.*-exec-\\d+"), "Tomcat worker's Java name: " + e.fields());
            }
            List<Event> ofConn = events.stream().filter(e -> e.num("conn") == conn).toList();
            assertEquals(mine.size(), ofConn.size(), "every event of the conn has this connection's addresses");
            assertArrayEquals(c.request(), CapturedEvents.stream(mine, false), c.name() + "'s request, exactly");
            assertArrayEquals(c.response(), CapturedEvents.stream(mine, true), c.name() + "'s response, exactly");
        }
        assertNotEquals(conns.get(0), conns.get(1));
    }

    /** A body of {@code n} bytes that names its connection throughout. */
    static byte[] body(String name, int n) {
        byte[] b = new byte[n];
        byte[] pattern = (name + "-").getBytes(StandardCharsets.US_ASCII);
        for (int i = 0; i < n; i++) {
            b[i] = pattern[i % pattern.length];
        }
        return b;
    }

    /** The request head curl -v says it sent ("> " lines), with the CRLFs it sent them with. */
    static byte[] requestHead(Path verbose) throws IOException {
        StringBuilder b = new StringBuilder();
        for (String line : Files.readAllLines(verbose, StandardCharsets.ISO_8859_1)) {
            if (line.startsWith("> ")) {
                b.append(line.substring(2)).append("\r\n");
            } else if (line.equals(">")) {
                b.append("\r\n");
            }
        }
        return b.toString().getBytes(StandardCharsets.ISO_8859_1);
    }

    static byte[] concat(byte[] a, byte[] b) {
        ByteArrayOutputStream o = new ByteArrayOutputStream();
        o.writeBytes(a);
        o.writeBytes(b);
        return o.toByteArray();
    }

    /** Waits for a line of {@code file} that starts with {@code prefix} (and contains {@code marker}). */
    static String awaitLine(Process p, Path file, String prefix, String... marker) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (System.nanoTime() < deadline) {
            for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
                if (line.startsWith(prefix) && (marker.length == 0 || line.contains(marker[0]))) {
                    return line;
                }
            }
            if (!p.isAlive()) {
                break;
            }
            Thread.sleep(50);
        }
        throw new AssertionError("no '" + prefix + "' line in " + file + ":\n" + Files.readString(file));
    }
}
