package io.btfagent.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
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
 * Credentials are masked before any sink, through a real stack: wildfly-openssl over the
 * system's OpenSSL sends a request with Authorization and Cookie headers, the JSSE server
 * answers with Set-Cookie; the JSONL file and the log sink must show stars of the same length,
 * and with {@code redact=none} the clear text (so the masking seen is the agent's).
 */
@Privileged
class RedactionIT extends AgainstEchoServer {
    private static final String CLIENT = "io.btfagent.demo.WildflyHttpsClient";
    private static final String TOKEN = "Bearer eyJhbGciOiJIUzI1NiJ9.s3cr3t";
    private static final String HEADERS = "Authorization: " + TOKEN + "|Cookie: sid=abc123; theme=dark";

    private ChildJvm.Result run(String options, Path jsonl) throws Exception {
        ChildJvm.Result r = new ChildJvm().agent("sinks=jsonl,log,sink.jsonl.path=" + jsonl + options)
                .jvmArg("-Ddemo.headers=" + HEADERS)
                .runWhenReady(CLIENT, List.of(HOST, String.valueOf(server.port()), "/login", "1"), 120, "traffic",
                        List.of(WildflyCaptureIT.READY));
        assertEquals(0, r.exitCode(), "client failed:\n" + r.stderr());
        return r;
    }

    private static byte[] masked(String text, String... values) {
        for (String v : values) {
            text = text.replace(v, "*".repeat(v.length()));
        }
        return text.getBytes(StandardCharsets.ISO_8859_1);
    }

    @Test
    void authorizationCookieAndSetCookieValuesAreMaskedInEverySinkWithLengthsKept() throws Exception {
        Path jsonl = tmp.resolve("events.jsonl");
        ChildJvm.Result r = run("", jsonl);

        byte[] request = WildflyHttpsClient.request(HOST, server.port(), "/login", HEADERS);
        byte[] response = TlsEchoServer.responseFor("/login");
        String requestText = new String(request, StandardCharsets.ISO_8859_1);
        String responseText = new String(response, StandardCharsets.ISO_8859_1);
        assertTrue(requestText.contains("Authorization: " + TOKEN + "\r\nCookie: sid=abc123; theme=dark\r\n"));
        assertTrue(responseText.contains(TlsEchoServer.SESSION_COOKIE + "\r\n"));

        List<Event> events = CapturedEvents.read(jsonl);
        assertEquals(2, events.size(), "one SSL_write and one SSL_read: " + events);
        Event out = events.get(0);
        Event in = events.get(1);
        assertArrayEquals(masked(requestText, TOKEN, "sid=abc123; theme=dark"), out.data());
        assertArrayEquals(masked(responseText, "session=7f3a9c0e11d2; Path=/; HttpOnly"), in.data());
        assertEquals(request.length, out.num("len"));
        assertEquals(request.length, out.num("captured"));
        assertEquals(response.length, in.num("len"));
        assertEquals(response.length, in.num("captured"));
        assertTrue(out.bool("redacted"));
        assertTrue(in.bool("redacted"));

        String log = String.join("\n", r.agentLines());
        assertFalse(log.contains("s3cr3t") || log.contains("abc123") || log.contains("7f3a9c0e11d2"), log);
        assertTrue(log.contains("Authorization: " + "*".repeat(TOKEN.length()) + "\\r\\n"), log);
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(jsonl)));
    }

    @Test
    void redactNoneLeavesTheBytesAsSent() throws Exception {
        Path jsonl = tmp.resolve("clear.jsonl");
        run(",redact=none", jsonl);
        List<Event> events = CapturedEvents.read(jsonl);
        assertEquals(2, events.size(), "one SSL_write and one SSL_read: " + events);
        assertArrayEquals(WildflyHttpsClient.request(HOST, server.port(), "/login", HEADERS), events.get(0).data());
        assertArrayEquals(TlsEchoServer.responseFor("/login"), events.get(1).data());
        assertFalse(events.get(0).fields().containsKey("redacted"));
        assertFalse(events.get(1).fields().containsKey("redacted"));
    }
}
