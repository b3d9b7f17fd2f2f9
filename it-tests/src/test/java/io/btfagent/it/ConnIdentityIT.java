package io.btfagent.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.btfagent.it.CapturedEvents.Event;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code conn} is unique for the life of one TLS object: OpenSSL frees an {@code SSL*} and hands
 * the same address to the next connection, whose events must carry another conn.
 */
@Privileged
class ConnIdentityIT {
    @TempDir
    Path tmp;

    /** A throwaway P-256 certificate and key, as the benchmark makes them. */
    static Path[] certificate(Path dir) throws Exception {
        Path key = dir.resolve("key.pem");
        Path cert = dir.resolve("cert.pem");
        Process p = new ProcessBuilder("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt",
                "ec_paramgen_curve:P-256", "-nodes", "-days", "1", "-subj", "/CN=localhost", "-keyout", key.toString(),
                "-out", cert.toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS) && p.exitValue() == 0, out);
        return new Path[] {cert, key};
    }

    @Test
    void aPointerReusedAfterSslFreeStartsANewConn() throws Exception {
        Path[] pem = certificate(tmp);
        Path jsonl = tmp.resolve("events.jsonl");
        ChildJvm.Result r = new ChildJvm().classpath(ChildJvm.classpathWithApplicationJna())
                .agent("sinks=jsonl,sink.jsonl.path=" + jsonl)
                .runWhenReady("io.btfagent.demo.SslReuseClient", List.of(Libraries.LIBSSL.toString(),
                        Libraries.LIBCRYPTO.toString(), pem[0].toString(), pem[1].toString()), 120, "traffic",
                        List.of(WildflyCaptureIT.READY));
        assertEquals(0, r.exitCode(), r.stderr());
        String reused = r.stdout().lines().filter(l -> l.startsWith("reused ")).findFirst()
                .orElseThrow(() -> new AssertionError("no reuse line:\n" + r.stdout()));
        String[] f = reused.split(" ");
        String ptr = f[1];
        int first = Integer.parseInt(f[2]);
        int second = Integer.parseInt(f[3]);

        List<Event> events = CapturedEvents.read(jsonl);
        Event a = write(events, ptr, "round " + first);
        Event b = write(events, ptr, "round " + second);
        assertTrue(a.num("conn") > 0 && b.num("conn") > 0, a.fields() + "\n" + b.fields());
        assertNotEquals(a.num("conn"), b.num("conn"), "the same SSL* after SSL_free is another connection");
        // each round's server SSL_read is the other end: its own TLS object, its own conn
        for (int round : new int[] {first, second}) {
            Event w = write(events, ptr, "round " + round);
            Event read = events.stream().filter(e -> !e.egress()
                    && new String(e.data(), StandardCharsets.US_ASCII).equals("round " + round)).findFirst()
                    .orElseThrow(() -> new AssertionError("no SSL_read of round " + round));
            assertNotEquals(w.num("conn"), read.num("conn"), "client and server objects of round " + round);
        }
        long distinct = events.stream().map(e -> e.num("conn")).distinct().count();
        assertEquals(events.size(), distinct, "every SSL object made one call, so every event is its own conn");
        for (Event e : events) {
            assertNull(e.str("role"), "no JVM stack reported these objects: no role is guessed");
            assertNull(e.str("local"), e.fields().toString());
            assertNull(e.str("remote"), e.fields().toString());
            assertEquals(-1, e.num("fd"));
        }
    }

    private static Event write(List<Event> events, String ptr, String text) {
        Event e = events.stream().filter(x -> x.egress() && ptr.equals(x.str("ssl"))
                && new String(x.data(), StandardCharsets.US_ASCII).equals(text)).findFirst().orElse(null);
        assertNotNull(e, "no SSL_write of '" + text + "' on " + ptr + " in " + events);
        assertArrayEquals(text.getBytes(StandardCharsets.US_ASCII), e.data());
        return e;
    }
}
