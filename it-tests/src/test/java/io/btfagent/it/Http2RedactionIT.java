package io.btfagent.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.btfagent.grpc.GrpcMetadataCalls;
import io.btfagent.it.CapturedEvents.Event;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Credentials in HTTP/2 header blocks, through real gRPC: a grpc-netty-shaded client (its
 * shaded BoringSSL) sends a bearer token and an API key as call metadata, three calls on one
 * channel (the second refers to both by dynamic table index, the third sends new values), to a
 * grpc-netty-shaded server in another JVM. Both JVMs run the agent with the log, jsonl and
 * pcapng sinks: no output of either shows a credential, the lists show them as stars, and
 * tshark decodes each pcapng as HTTP/2 with the masked values. A client first captured in the
 * middle of its connection (an attach after its first call) is masked as well.
 */
@Privileged
class Http2RedactionIT {
    private static final String APP = "io.btfagent.grpc.GrpcMetadataCalls";
    private static final String TOKEN1 = "eyJhbGciOiJIUzI1NiJ9.first-s3cr3t";
    private static final String KEY1 = "ak-first-4711-s3cr3t";
    private static final String TOKEN2 = "eyJhbGciOiJIUzI1NiJ9.second-s3cr3t-longer";
    private static final String KEY2 = "ak-second-0815-s3cr3t";
    /** The second call's x-padding: its block spans HEADERS and CONTINUATION frames and two records. */
    private static final int BIG = 20_000;
    private static final List<String> SECRETS = List.of("s3cr3t", TOKEN1, KEY1, TOKEN2, KEY2);

    @TempDir
    Path tmp;

    private static String sinks(Path dir, String name) {
        return "redact.headers=x-api-key,sinks=jsonl,log,pcapng,sink.jsonl.path=" + dir.resolve(name + ".jsonl") + ",sink.pcapng.path="
                + dir.resolve(name + ".pcapng") + ",watch.paths=";
    }

    private static void assertNoSecret(String where, byte[] bytes) {
        String text = new String(bytes, StandardCharsets.ISO_8859_1);
        for (String s : SECRETS) {
            assertFalse(text.contains(s), where + " shows '" + s + "'");
        }
    }

    private static void assertNoSecret(String where, String text) {
        assertNoSecret(where, text.getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void grpcMetadataIsMaskedInEverySinkOfClientAndServerAndTheCaptureStillDecodes() throws Exception {
        Path[] cert = NettyStack.selfSignedCertificate(tmp);
        ChildJvm.Result client;
        ChildJvm.Result server;
        int port;
        try (ChildJvm.Running s = new ChildJvm().classpath(NettyStack.grpcClasspath())
                .jvmArg("-Djava.io.tmpdir=" + tmp).agent(sinks(tmp, "server"))
                .start(APP, List.of("server", cert[0].toString(), cert[1].toString()))) {
            port = Integer.parseInt(s.awaitPrinted("port", 60));
            s.awaitStderr(NettyStack.HOOKED, 60);
            s.awaitStderr(WildflyCaptureIT.READY, 60);
            try (ChildJvm.Running c = new ChildJvm().classpath(NettyStack.grpcClasspath())
                    .jvmArg("-Djava.io.tmpdir=" + tmp).jvmArg("-Ddemo.await-go=traffic")
                    .jvmArg("-Ddemo.big-header=" + BIG).agent(sinks(tmp, "client"))
                    .start(APP, List.of("client", cert[0].toString(), String.valueOf(port), TOKEN1, KEY1, TOKEN2,
                            KEY2))) {
                c.awaitPrinted("ready", 60);
                c.awaitStderr(NettyStack.HOOKED, 60);
                c.awaitStderr(WildflyCaptureIT.READY, 60);
                c.send();
                client = c.finish(90);
            }
            server = s.finish(60);
        }
        assertEquals(0, client.exitCode(), "client failed:\n" + client.stderr());
        assertEquals(0, server.exitCode(), "server failed:\n" + server.stderr());
        // the credentials did reach the server, as sent
        String bearer1 = "Bearer " + TOKEN1;
        String bearer2 = "Bearer " + TOKEN2;
        assertEquals(GrpcMetadataCalls.answer("call 1", bearer1, KEY1), client.printed().get("response1"));
        assertEquals(GrpcMetadataCalls.answer("call 2", bearer1, KEY1), client.printed().get("response2"));
        assertEquals(GrpcMetadataCalls.answer("call 3", bearer2, KEY2), client.printed().get("response3"));

        for (String side : List.of("client", "server")) {
            ChildJvm.Result r = side.equals("client") ? client : server;
            Path jsonl = tmp.resolve(side + ".jsonl");
            Path pcap = tmp.resolve(side + ".pcapng");
            List<Event> events = CapturedEvents.read(jsonl);
            assertFalse(events.isEmpty(), side + ": no events");
            assertNoSecret(side + " jsonl file", Files.readAllBytes(jsonl));
            for (Event e : events) {
                assertNoSecret(side + " jsonl event data", e.data());
            }
            assertNoSecret(side + " pcapng file", Files.readAllBytes(pcap));
            String log = String.join("\n", r.agentLines());
            assertNoSecret(side + " log", log);
            assertFalse(log.contains("header state lost") || log.contains("mid-connection"),
                    side + ": followed from its start:\n" + log);

            // the decoded lists: three requests, each with both credentials masked (the second by index)
            List<String> lines = new ArrayList<>();
            events.forEach(e -> lines.addAll(e.headers()));
            List<String> auth = lines.stream().filter(l -> l.startsWith("authorization: ")).toList();
            assertEquals(List.of("authorization: " + "*".repeat(bearer1.length()),
                    "authorization: " + "*".repeat(bearer1.length()),
                    "authorization: " + "*".repeat(bearer2.length())), auth, side + ": " + lines);
            assertEquals(3, lines.stream().filter(l -> l.equals(":path: /btfagent.Echo/Say")).count(), side + ": " + lines);
            assertEquals(3, lines.stream().filter(l -> l.startsWith("x-api-key: *")).count(), side + ": " + lines);
            assertTrue(events.stream().anyMatch(e -> e.fields().containsKey("redacted")), side);
            assertEquals(1, lines.stream().filter(l -> l.startsWith("x-padding: p")).count(), side);
            // the requests (one connection per JVM) carry a CONTINUATION frame from grpc's own encoder
            List<Integer> types = frameTypes(CapturedEvents.stream(events, side.equals("client")));
            assertTrue(types.contains(9), side + ": CONTINUATION in the requests: " + types);
            assertTrue(log.contains(" headers=\"[stream 3 HEADERS] :authority: localhost | :path: /btfagent.Echo/Say"
                    + " | :method: POST | :scheme: https | "), side + " log:\n" + log);
            assertTrue(log.contains("authorization: " + "*".repeat(bearer2.length())), side + " log:\n" + log);

            // tshark decodes the capture as HTTP/2: headers (masked) and DATA
            String decoded = Tshark.run("-r", pcap.toString(), "-d", "tcp.port==" + port + ",http2", "-Y",
                    "http2.type == 1", "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=|",
                    "-e", "http2.header.name", "-e", "http2.header.value");
            assertNoSecret(side + " tshark", decoded);
            List<String> rows = decoded.lines().filter(l -> l.contains("authorization")).toList();
            assertEquals(3, rows.size(), side + " tshark:\n" + decoded);
            for (int i = 0; i < 3; i++) {
                String stars = "*".repeat((i < 2 ? bearer1 : bearer2).length());
                assertTrue(rows.get(i).contains(stars) && rows.get(i).contains("x-api-key"),
                        side + " tshark row " + i + ":\n" + decoded);
            }
            String data = Tshark.run("-r", pcap.toString(), "-d", "tcp.port==" + port + ",http2", "-Y",
                    "http2.type == 0", "-T", "fields", "-e", "http2.data.data");
            assertTrue(data.lines().filter(l -> !l.isBlank()).count() >= 6,
                    side + ": three requests and three responses in DATA frames:\n" + data);
        }
    }

    /**
     * curl (nghttp2) Huffman-codes its header values: two requests on one connection to the
     * gRPC server on its shaded netty-tcnative; the server's ingress is masked, Huffman values
     * as the code of '*', and tshark decodes them as stars.
     */
    @Test
    void curlsHuffmanCodedCredentialsAreMaskedOnTheServer() throws Exception {
        Path[] cert = NettyStack.selfSignedCertificate(tmp);
        Path message = tmp.resolve("message.bin");
        Files.write(message, new byte[] {0, 0, 0, 0, 4, 'p', 'i', 'n', 'g'});
        ChildJvm.Result server;
        int port;
        String out;
        try (ChildJvm.Running s = new ChildJvm().classpath(NettyStack.grpcClasspath())
                .jvmArg("-Djava.io.tmpdir=" + tmp).agent(sinks(tmp, "curl"))
                .start(APP, List.of("server", cert[0].toString(), cert[1].toString()))) {
            port = Integer.parseInt(s.awaitPrinted("port", 60));
            s.awaitStderr(NettyStack.HOOKED, 60);
            s.awaitStderr(WildflyCaptureIT.READY, 60);
            String url = "https://127.0.0.1:" + port + "/btfagent.Echo/Say";
            Process curl = new ProcessBuilder("curl", "-sS", "-k", "--http2", "--max-time", "30",
                    "-H", "content-type: application/grpc", "-H", "te: trailers",
                    "-H", "authorization: Bearer " + TOKEN1, "-H", "x-api-key: " + KEY1,
                    "--data-binary", "@" + message, url, "--next", "-k", "--http2",
                    "-H", "content-type: application/grpc", "-H", "te: trailers",
                    "-H", "authorization: Bearer " + TOKEN2, "-H", "x-api-key: " + KEY2,
                    "--data-binary", "@" + message, url)
                    .redirectOutput(tmp.resolve("curl.out").toFile()).redirectError(tmp.resolve("curl.err").toFile())
                    .start();
            try {
                assertTrue(curl.waitFor(60, java.util.concurrent.TimeUnit.SECONDS), "curl did not finish");
                assertEquals(0, curl.exitValue(), Files.readString(tmp.resolve("curl.err")));
            } finally {
                curl.destroyForcibly().waitFor(10, java.util.concurrent.TimeUnit.SECONDS);
            }
            out = Files.readString(tmp.resolve("curl.out"), StandardCharsets.ISO_8859_1);
            server = s.finish(60);
        }
        assertEquals(0, server.exitCode(), server.stderr());
        // the server saw the credentials as sent (their lengths in its answers)
        assertTrue(out.contains(GrpcMetadataCalls.answer("ping", "Bearer " + TOKEN1, KEY1)), out);
        assertTrue(out.contains(GrpcMetadataCalls.answer("ping", "Bearer " + TOKEN2, KEY2)), out);

        Path jsonl = tmp.resolve("curl.jsonl");
        Path pcap = tmp.resolve("curl.pcapng");
        List<Event> events = CapturedEvents.read(jsonl);
        assertNoSecret("jsonl file", Files.readAllBytes(jsonl));
        for (Event e : events) {
            assertNoSecret("event data", e.data());
        }
        assertNoSecret("pcapng file", Files.readAllBytes(pcap));
        String log = String.join("\n", server.agentLines());
        assertNoSecret("log", log);
        assertFalse(log.contains("header state lost") || log.contains("mid-connection"),
                "masked by name, the decoder in step:\n" + log);
        List<String> lines = new ArrayList<>();
        events.forEach(e -> lines.addAll(e.headers()));
        List<String> masked = lines.stream()
                .filter(l -> l.startsWith("authorization: ") || l.startsWith("x-api-key: ")).toList();
        assertEquals(4, masked.size(), lines.toString());
        for (String l : masked) {
            assertTrue(l.substring(l.indexOf(": ") + 2).matches("\\*+"), l);
        }
        assertTrue(lines.contains(":path: /btfagent.Echo/Say"), "curl's other values decode: " + lines);
        // in the capture, the Huffman-coded values are now runs of 0xf9, the code of '*'
        byte[] ingress = CapturedEvents.stream(events, false);
        assertTrue(Libraries.indexOf(ingress, new byte[] {(byte) 0xf9, (byte) 0xf9, (byte) 0xf9, (byte) 0xf9}, 0) >= 0,
                "Huffman-coded masked values");
        String decoded = Tshark.run("-r", pcap.toString(), "-d", "tcp.port==" + port + ",http2", "-Y",
                "http2.type == 1", "-T", "fields", "-E", "occurrence=a", "-E", "aggregator=|",
                "-e", "http2.header.name", "-e", "http2.header.value");
        assertNoSecret("tshark", decoded);
        List<String> rows = decoded.lines().filter(l -> l.contains("authorization")).toList();
        assertEquals(2, rows.size(), decoded);
        for (String row : rows) {
            assertTrue(row.contains("********"), "the masked values decode as stars: " + row);
        }
    }

    /** The frame types of a client-to-server HTTP/2 byte stream (after the preface), in order. */
    private static List<Integer> frameTypes(byte[] stream) {
        List<Integer> types = new ArrayList<>();
        int p = 24;
        while (p + 9 <= stream.length) {
            int length = (stream[p] & 0xff) << 16 | (stream[p + 1] & 0xff) << 8 | stream[p + 2] & 0xff;
            types.add(stream[p + 3] & 0xff);
            p += 9 + length;
        }
        return types;
    }

    @Test
    void aClientCapturedFromTheMiddleOfItsConnectionShowsNoCredential() throws Exception {
        Path[] cert = NettyStack.selfSignedCertificate(tmp);
        Path jsonl = tmp.resolve("attached.jsonl");
        ChildJvm.Result client;
        try (ChildJvm.Running s = new ChildJvm().classpath(NettyStack.grpcClasspath())
                .jvmArg("-Djava.io.tmpdir=" + tmp)
                .start(APP, List.of("server", cert[0].toString(), cert[1].toString()))) {
            int port = Integer.parseInt(s.awaitPrinted("port", 60));
            try (ChildJvm.Running c = new ChildJvm().classpath(NettyStack.grpcClasspath())
                    .jvmArg("-Djava.io.tmpdir=" + tmp).jvmArg("-Ddemo.await-go=traffic,more")
                    .start(APP, List.of("client", cert[0].toString(), String.valueOf(port), TOKEN1, KEY1, TOKEN2,
                            KEY2))) {
                c.awaitPrinted("ready", 60);
                c.send();
                c.awaitPrinted("channel", 60); // the first call is done, its connection open
                RunningJvm.Command attach = RunningJvm.command(ChildJvm.AGENT_JAR, "attach", String.valueOf(c.pid()),
                        "redact.headers=x-api-key,sinks=jsonl,log,sink.jsonl.path=" + jsonl);
                assertEquals(0, attach.exitCode(), attach.stdout() + attach.stderr());
                c.send();
                client = c.finish(90);
            }
            s.finish(60);
        }
        assertEquals(0, client.exitCode(), "client failed:\n" + client.stderr());
        assertEquals(GrpcMetadataCalls.answer("call 3", "Bearer " + TOKEN2, KEY2), client.printed().get("response3"));
        List<Event> events = CapturedEvents.read(jsonl);
        List<Event> egress = events.stream().filter(Event::egress).toList();
        assertFalse(egress.isEmpty(), "the later calls are captured: " + events);
        assertNoSecret("jsonl file", Files.readAllBytes(jsonl));
        for (Event e : events) {
            assertNoSecret("event data", e.data());
        }
        String stderr = client.stderr();
        assertNoSecret("the client's stderr (log sink)", stderr);
        assertTrue(stderr.contains("HTTP/2 first seen mid-connection"), stderr);
        // the third call's new values were literals: masked, not merely absent
        List<String> lines = new ArrayList<>();
        events.forEach(e -> lines.addAll(e.headers()));
        assertTrue(lines.contains("authorization: " + "*".repeat(("Bearer " + TOKEN2).length())), lines.toString());
        assertTrue(lines.stream().anyMatch(l -> l.endsWith(": " + "*".repeat(KEY2.length()))), lines.toString());
    }
}
