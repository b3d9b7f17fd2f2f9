package io.btfagent.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.btfagent.demo.TlsEchoServer;
import io.btfagent.demo.WildflyHttpsClient;
import io.btfagent.it.CapturedEvents.Event;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Base64;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * A third-party sink (io.btfagent.example.TsvSink, built by this module as a jar of its own)
 * loaded with {@code extensions=} beside the built-in jsonl sink, through a real capture.
 */
@Privileged
class ExtensionSinkIT extends AgainstEchoServer {
    private static final String CLIENT = "io.btfagent.demo.WildflyHttpsClient";
    private static final Path JAR = Path.of(System.getProperty("it.example-sink.jar"));
    private static final String HEADERS = "Authorization: Basic dXNlcjpwYXNz";

    private ChildJvm.Result run(String options) throws Exception {
        ChildJvm.Result r = new ChildJvm().agent(options).jvmArg("-Ddemo.headers=" + HEADERS)
                .runWhenReady(CLIENT, List.of(HOST, String.valueOf(server.port()), "/login", "1"), 120, "traffic",
                        List.of(WildflyCaptureIT.READY));
        assertEquals(0, r.exitCode(), "client failed:\n" + r.stderr());
        return r;
    }

    private static String summary(ChildJvm.Result r) {
        return r.agentLines().stream().filter(l -> l.contains("capture summary")).findFirst()
                .orElseThrow(() -> new AssertionError("no capture summary:\n" + r.stderr()));
    }

    @Test
    void aSinkFromAnExtensionJarGetsTheSameMaskedEventsAsJsonl() throws Exception {
        assertTrue(Files.isRegularFile(JAR), JAR + " is built by this module's package phase");
        Path tsv = tmp.resolve("events.tsv");
        Path jsonl = tmp.resolve("events.jsonl");
        ChildJvm.Result r = run("extensions=" + JAR + ",sinks=tsv,jsonl,sink.tsv.path=" + tsv
                + ",sink.jsonl.path=" + jsonl);

        List<Event> events = CapturedEvents.read(jsonl);
        List<String> lines = Files.readAllLines(tsv);
        assertEquals(2, events.size(), "one SSL_write and one SSL_read: " + events);
        assertEquals(2, lines.size(), String.join("\n", lines));
        byte[] request = WildflyHttpsClient.request(HOST, server.port(), "/login", HEADERS);
        for (int i = 0; i < 2; i++) {
            Event e = events.get(i);
            String[] f = lines.get(i).split("\t");
            assertEquals(List.of(e.str("dir"), Long.toString(e.num("len")), "0", "true"), List.of(f).subList(0, 4));
            assertArrayEquals(e.data(), Base64.getDecoder().decode(f[4]));
        }
        assertEquals(request.length, events.get(0).num("len"));
        assertEquals(TlsEchoServer.responseFor("/login").length, events.get(1).num("len"));
        assertTrue(summary(r).contains(" sink tsv: delivered=2 dropped=0 failed=0 "), summary(r));
        assertTrue(summary(r).contains("; lines=2"), summary(r));
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(tsv)));
    }

    @Test
    void anUnknownKeyOfTheExtensionSinkIsOneLineAndJsonlStillRuns() throws Exception {
        Path jsonl = tmp.resolve("events.jsonl");
        ChildJvm.Result r = run("extensions=" + JAR + ",sinks=tsv,jsonl,sink.tsv.colour=red,sink.jsonl.path=" + jsonl);
        assertTrue(r.agentLines().stream().anyMatch(l -> l.endsWith(
                "WARN  sink tsv not started: unknown key sink.tsv.colour; valid keys: sink.tsv.path")), r.stderr());
        assertEquals(2, CapturedEvents.read(jsonl).size());
    }

    @Test
    void anExtensionJarOthersCanWriteIsNotLoaded() throws Exception {
        Path copy = tmp.resolve("example-sink.jar");
        Files.copy(JAR, copy);
        Files.setPosixFilePermissions(copy, PosixFilePermissions.fromString("rw-rw-rw-"));
        Path jsonl = tmp.resolve("events.jsonl");
        ChildJvm.Result r = run("extensions=" + copy + ",sinks=tsv,jsonl,sink.tsv.path=" + tmp.resolve("x.tsv")
                + ",sink.jsonl.path=" + jsonl);
        assertTrue(r.agentLines().stream().anyMatch(l -> l.endsWith("WARN  extension " + copy + " not loaded: " + copy
                + " is writable by group or others (mode 0666); chmod go-w it")), r.stderr());
        assertTrue(r.agentLines().stream().anyMatch(l -> l.endsWith(
                "WARN  unknown sink 'tsv' in sinks=; known sinks: log, jsonl, pcapng, kafka")), r.stderr());
        assertEquals(2, CapturedEvents.read(jsonl).size());
    }
}
