package io.btfagent.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.btfagent.demo.TlsEchoServer;
import io.btfagent.demo.WildflyHttpsClient;
import io.btfagent.it.CapturedEvents.Event;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * OpenSSL doing its own socket I/O (SSL_set_fd) in a JVM with the agent: the events carry the
 * exact bytes, and exactly the fd, local and remote address of that socket as the client
 * itself sees them (getsockname, /proc/self/fd).
 */
@Privileged
class SocketBioCaptureIT extends AgainstEchoServer {
    private static final String CLIENT = "io.btfagent.demo.SocketBioClient";
    private static final String LIBSSL = ChildJvm.LIBSSL_DIR + "/libssl.so.3";

    @ParameterizedTest
    @ValueSource(strings = {"plain", "ex"})
    void eventsCarryTheExactBytesFdAndAddressesOfTheSocket(String mode) throws Exception {
        String path = "/bytes/100000";
        Path jsonl = tmp.resolve("events.jsonl");
        ChildJvm.Result r = new ChildJvm().classpath(ChildJvm.classpathWithApplicationJna())
                .agent("sinks=jsonl,sink.jsonl.path=" + jsonl)
                .runWhenReady(CLIENT, List.of(HOST, String.valueOf(server.port()), path, LIBSSL, mode), 120, "traffic",
                        List.of(WildflyCaptureIT.READY));
        assertEquals(0, r.exitCode(), r.stderr());
        Map<String, String> printed = r.printed();
        assertTrue(printed.get("fd-link").matches("socket:\\[\\d+\\]"), "a real socket: " + printed);
        assertEquals(HOST + ":" + server.port(), printed.get("remote"));

        List<Event> events = CapturedEvents.read(jsonl);
        assertArrayEquals(WildflyHttpsClient.request(HOST, server.port(), path), CapturedEvents.stream(events, true));
        assertArrayEquals(TlsEchoServer.responseFor(path), CapturedEvents.stream(events, false));
        String write = mode.equals("ex") ? "SSL_write_ex" : "SSL_write";
        String read = mode.equals("ex") ? "SSL_read_ex" : "SSL_read";
        for (Event e : events) {
            assertEquals(e.egress() ? write : read, e.str("func"));
            assertEquals(Long.parseLong(printed.get("fd")), e.num("fd"), "the socket's fd");
            assertEquals(printed.get("local"), e.str("local"));
            assertEquals(printed.get("remote"), e.str("remote"));
            assertEquals(r.pid(), e.num("pid"));
        }
    }
}
