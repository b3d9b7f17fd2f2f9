package io.btfagent.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.btfagent.demo.TlsEchoServer;
import io.btfagent.demo.WildflyHttpsClient;
import io.btfagent.it.CapturedEvents.Event;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * The README's example config (it-tests/btf-agent.example.properties), used as a user would,
 * with only the output paths moved into a temp dir: no warning, and the pcapng sink's file
 * read back by tshark gives the exact bytes of the exchange, credentials masked.
 */
@Privileged
class ExampleConfigIT extends AgainstEchoServer {
    private static final String CLIENT = "io.btfagent.demo.WildflyHttpsClient";
    static final Path EXAMPLE = Path.of("btf-agent.example.properties").toAbsolutePath();
    private static final String HEADERS = "Authorization: Bearer it-secret|X-Api-Key: k-42";

    @Test
    void theExampleConfigCapturesToJsonlAndPcapngThatTsharkFollows() throws Exception {
        Path logs = tmp.resolve("logs"); // created 0700 by the agent
        Path jsonl = logs.resolve("events.jsonl");
        Path pcap = logs.resolve("events.pcapng");
        ChildJvm.Result r = new ChildJvm()
                .agent("config=" + EXAMPLE + ",sink.jsonl.path=" + jsonl + ",sink.pcapng.path=" + pcap)
                .jvmArg("-Ddemo.headers=" + HEADERS)
                .runWhenReady(CLIENT, List.of(HOST, String.valueOf(server.port()), "/login", "1"), 120, "traffic",
                        List.of(WildflyCaptureIT.READY));
        assertEquals(0, r.exitCode(), r.stderr());
        assertEquals(List.of(), r.agentLines().stream().filter(l -> l.contains(" WARN ")).toList(),
                "the example config is valid as it stands");

        String request = new String(WildflyHttpsClient.request(HOST, server.port(), "/login", HEADERS),
                StandardCharsets.ISO_8859_1);
        byte[] maskedRequest = request.replace("Bearer it-secret", "****************").replace("k-42", "****")
                .getBytes(StandardCharsets.ISO_8859_1);
        byte[] maskedResponse = new String(TlsEchoServer.responseFor("/login"), StandardCharsets.ISO_8859_1)
                .replace("session=7f3a9c0e11d2; Path=/; HttpOnly", "*".repeat(38)).getBytes(StandardCharsets.ISO_8859_1);
        List<Event> events = CapturedEvents.read(jsonl);
        assertEquals(2, events.size(), events.toString());
        assertArrayEquals(maskedRequest, events.get(0).data());
        assertArrayEquals(maskedResponse, events.get(1).data());

        Tshark.Follow f = Tshark.follow(pcap, 0);
        assertArrayEquals(maskedRequest, f.fromNode0(), "client to server");
        assertArrayEquals(maskedResponse, f.fromNode1(), "server to client");
        assertEquals("GET\t/login\t****************\n", Tshark.run("-r", pcap.toString(), "-Y", "http.request",
                "-T", "fields", "-e", "http.request.method", "-e", "http.request.uri", "-e", "http.authorization"));
        for (Path p : List.of(jsonl, pcap)) {
            assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(p)), p.toString());
        }
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(logs)));
        assertTrue(r.agentLines().stream().anyMatch(l -> l.contains(" sink pcapng: delivered=2 dropped=0 failed=0 ")),
                r.stderr());
    }
}
