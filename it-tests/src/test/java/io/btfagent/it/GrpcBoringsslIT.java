package io.btfagent.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.btfagent.grpc.GrpcTlsUnary;
import io.btfagent.it.CapturedEvents.Event;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A gRPC unary call over TLS, client and server in one JVM on grpc-netty-shaded, whose own
 * shaded netty-tcnative ({@code libio_grpc_netty_shaded_netty_tcnative_linux_x86_64<random>.so})
 * loads after the JVM has started. The request must be captured as the client's egress and the
 * server's ingress, byte for byte the same, and the response the other way.
 */
@Privileged
class GrpcBoringsslIT {
    private static final String APP = "io.btfagent.grpc.GrpcTlsUnary";
    private static final byte[] PREFACE = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.US_ASCII);

    @TempDir
    Path tmp;

    @Test
    void unaryCallIsCapturedOnBothSides() throws Exception {
        Path[] cert = NettyStack.selfSignedCertificate(tmp);
        Path jsonl = tmp.resolve("events.jsonl");
        String text = "unary request through grpc-netty-shaded";
        ChildJvm.Result r;
        try (ChildJvm.Running app = new ChildJvm().classpath(NettyStack.grpcClasspath())
                .jvmArg("-Djava.io.tmpdir=" + tmp).jvmArg("-Ddemo.await-go=traffic")
                .agent("sinks=jsonl,log,sink.jsonl.path=" + jsonl + ",watch.paths=")
                .start(APP, List.of(cert[0].toString(), cert[1].toString(), text))) {
            app.awaitPrinted("ready", 60);
            app.awaitStderr(NettyStack.HOOKED, 60);
            app.awaitStderr(WildflyCaptureIT.READY, 60); // and woven: identity for every connection
            app.send();
            r = app.finish(60);
        }
        r.agentLines().forEach(System.out::println);
        assertEquals(0, r.exitCode(), "gRPC app failed:\n" + r.stderr());
        byte[] request = text.getBytes(StandardCharsets.UTF_8);
        byte[] response = GrpcTlsUnary.answer(request);
        assertArrayEquals(response, java.util.Base64.getDecoder().decode(r.printed().get("response")));

        List<Event> events = CapturedEvents.read(jsonl);
        Map<String, List<Event>> bySsl = NettyBoringsslIT.bySsl(events);
        assertEquals(2, bySsl.size(), "the client's and the server's SSL*: " + bySsl.keySet());
        List<Event> client = bySsl.values().stream()
                .filter(es -> startsWith(CapturedEvents.stream(es, true), PREFACE)).findFirst()
                .orElseThrow(() -> new AssertionError("no SSL* sent the HTTP/2 preface: " + events));
        List<Event> server = bySsl.values().stream().filter(es -> es != client).findFirst().orElseThrow();
        byte[] clientOut = CapturedEvents.stream(client, true);
        byte[] serverIn = CapturedEvents.stream(server, false);
        byte[] serverOut = CapturedEvents.stream(server, true);
        byte[] clientIn = CapturedEvents.stream(client, false);

        // The request: a gRPC message (0, 4-byte length, payload) in the client's egress, and the
        // server's ingress is the same byte stream up to and including it.
        int reqEnd = endOf(clientOut, grpcMessage(request));
        assertTrue(reqEnd > 0, "the request message is in the client's egress");
        assertTrue(serverIn.length >= reqEnd, "the server read the request");
        assertArrayEquals(Arrays.copyOf(clientOut, reqEnd), Arrays.copyOf(serverIn, reqEnd),
                "client egress and server ingress are the same bytes");
        int respEnd = endOf(serverOut, grpcMessage(response));
        assertTrue(respEnd > 0, "the response message is in the server's egress");
        assertTrue(clientIn.length >= respEnd, "the client read the response");
        assertArrayEquals(Arrays.copyOf(serverOut, respEnd), Arrays.copyOf(clientIn, respEnd),
                "server egress and client ingress are the same bytes");
        // identity from the shaded SslHandlers: the client's channel is the server's, mirrored
        String clientLocal = client.get(0).str("local");
        String clientRemote = client.get(0).str("remote");
        assertTrue(clientLocal != null && clientLocal.startsWith("127.0.0.1:") && clientRemote != null
                && clientRemote.startsWith("127.0.0.1:"), client.get(0).fields().toString());
        for (Event e : client) {
            assertEquals("client", e.str("role"), e.fields().toString());
            assertEquals(clientLocal, e.str("local"));
            assertEquals(clientRemote, e.str("remote"));
            assertEquals(client.get(0).num("conn"), e.num("conn"));
        }
        for (Event e : server) {
            assertEquals("server", e.str("role"), e.fields().toString());
            assertEquals(clientRemote, e.str("local"), "the server's end is the client's remote");
            assertEquals(clientLocal, e.str("remote"), "the server's peer is the client's end");
            assertEquals(server.get(0).num("conn"), e.num("conn"));
        }
        assertTrue(client.get(0).num("conn") != server.get(0).num("conn"), "two TLS objects, two conns");
        for (Event e : events) {
            assertEquals("boringssl", e.str("lib"));
            assertEquals(-1, e.num("fd"));
            assertEquals(r.pid(), e.num("pid"));
            assertTrue(e.str("libPath").startsWith(
                    tmp.resolve("libio_grpc_netty_shaded_netty_tcnative_linux_x86_64").toString()), e.str("libPath"));
        }
    }

    private static byte[] grpcMessage(byte[] payload) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        b.write(0);
        b.writeBytes(java.nio.ByteBuffer.allocate(4).putInt(payload.length).array());
        b.writeBytes(payload);
        return b.toByteArray();
    }

    private static boolean startsWith(byte[] a, byte[] prefix) {
        return a.length >= prefix.length && Arrays.equals(Arrays.copyOf(a, prefix.length), prefix);
    }

    /** The index just past the first occurrence of {@code needle} in {@code hay}, or -1. */
    private static int endOf(byte[] hay, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= hay.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (hay[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i + needle.length;
        }
        return -1;
    }
}
