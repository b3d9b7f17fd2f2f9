package io.btfagent.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.btfagent.grpc.GrpcTlsUnary;
import io.btfagent.it.CapturedEvents.Event;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * gRPC (HTTP/2) over grpc-netty-shaded with netty-tcnative turned off, so both ends use the
 * JDK's own TLS through netty's JDK provider: the client's HTTP/2 preface and frames are
 * captured once at each end, in Java, each end its own conn with role and mirrored addresses
 * from the woven (shaded) SslHandler; and the JDK's HttpClient over HTTP/2 to the same server.
 */
@Privileged
class GrpcJdkIT {
    @TempDir
    Path tmp;

    @Test
    void http2OverJsseIsCapturedExactlyAtBothEnds() throws Exception {
        Path[] cert = NettyStack.selfSignedCertificate(tmp);
        Path jsonl = tmp.resolve("events.jsonl");
        String text = "hello over h2 and JSSE";
        ChildJvm.Result r = new ChildJvm().classpath(NettyStack.grpcClasspath())
                .jvmArg("-Dio.grpc.netty.shaded.io.netty.handler.ssl.noOpenSsl=true")
                .agent("sinks=jsonl,sink.jsonl.path=" + jsonl + ",stats.interval=0")
                .runWhenReady("io.btfagent.grpc.GrpcTlsUnary", List.of(cert[0].toString(), cert[1].toString(), text),
                        180, "traffic", List.of(WildflyCaptureIT.READY));
        r.agentLines().forEach(System.out::println);
        assertEquals(0, r.exitCode(), r.stderr());
        assertArrayEquals(GrpcTlsUnary.answer(text.getBytes(StandardCharsets.UTF_8)),
                Base64.getDecoder().decode(r.printed().get("response")));
        List<Event> events = CapturedEvents.read(jsonl);
        Map<String, List<Event>> byRole = new LinkedHashMap<>();
        for (Event e : events) {
            assertEquals("jsse", e.str("lib"), "netty-tcnative is off: " + e.fields());
            assertTrue(e.str("func").startsWith("SSLEngine."), e.str("func"));
            assertTrue(e.str("thread").startsWith("grpc-default-worker-"), e.str("thread"));
            byRole.computeIfAbsent(e.str("role"), k -> new ArrayList<>()).add(e);
        }
        List<Event> client = byRole.get("client");
        List<Event> server = byRole.get("server");
        assertEquals(1, client.stream().map(e -> e.num("conn")).distinct().count());
        assertEquals(1, server.stream().map(e -> e.num("conn")).distinct().count());
        assertTrue(client.get(0).num("conn") != server.get(0).num("conn"));
        String local = client.get(0).str("local");
        String remote = client.get(0).str("remote");
        assertTrue(local.startsWith("127.0.0.1:") && remote.startsWith("127.0.0.1:"), local + " " + remote);
        client.forEach(e -> assertEquals(local + " " + remote, e.str("local") + " " + e.str("remote")));
        server.forEach(e -> assertEquals(remote + " " + local, e.str("local") + " " + e.str("remote")));
        byte[] sent = CapturedEvents.stream(client, true);
        assertTrue(new String(sent, StandardCharsets.ISO_8859_1).startsWith("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"));
        assertTrue(Libraries.indexOf(sent, text.getBytes(StandardCharsets.UTF_8), 0) > 0, "the request message in the frames");
        readAllButClosingControlFrames(sent, CapturedEvents.stream(server, false));
        byte[] answered = CapturedEvents.stream(server, true);
        assertTrue(Libraries.indexOf(answered, GrpcTlsUnary.answer(text.getBytes(StandardCharsets.UTF_8)), 0) > 0);
        readAllButClosingControlFrames(answered, CapturedEvents.stream(client, false));
    }

    @Test
    void theJdkHttpClientOverHttp2IsCapturedWithItsChannelsAddresses() throws Exception {
        Path[] cert = NettyStack.selfSignedCertificate(tmp);
        Path jsonl = tmp.resolve("events.jsonl");
        String text = "from the JDK's HttpClient";
        ChildJvm.Result r = new ChildJvm().classpath(NettyStack.grpcClasspath())
                .jvmArg("-Dio.grpc.netty.shaded.io.netty.handler.ssl.noOpenSsl=true")
                .agent("sinks=jsonl,sink.jsonl.path=" + jsonl + ",stats.interval=0")
                .runWhenReady("io.btfagent.grpc.GrpcTlsUnary", List.of(cert[0].toString(), cert[1].toString(), text,
                        "httpclient"), 180, "traffic", List.of(WildflyCaptureIT.READY));
        r.agentLines().forEach(System.out::println);
        assertEquals(0, r.exitCode(), r.stderr());
        byte[] answer = GrpcTlsUnary.answer(text.getBytes(StandardCharsets.UTF_8));
        assertArrayEquals(answer, Base64.getDecoder().decode(r.printed().get("response")));
        Map<String, List<Event>> byRole = new LinkedHashMap<>();
        for (Event e : CapturedEvents.read(jsonl)) {
            assertEquals("jsse", e.str("lib"), e.fields().toString());
            byRole.computeIfAbsent(e.str("role"), k -> new ArrayList<>()).add(e);
        }
        List<Event> client = byRole.get("client");
        List<Event> server = byRole.get("server");
        String local = client.get(0).str("local");
        String remote = client.get(0).str("remote");
        assertTrue(local.startsWith("127.0.0.1:"), local);
        for (Event e : client) {
            assertTrue(e.str("thread").startsWith("HttpClient-"), e.str("thread"));
            assertEquals(local + " " + remote, e.str("local") + " " + e.str("remote"));
            assertEquals(client.get(0).num("conn"), e.num("conn"));
        }
        server.forEach(e -> assertEquals(remote + " " + local, e.str("local") + " " + e.str("remote")));
        byte[] sent = CapturedEvents.stream(client, true);
        assertTrue(new String(sent, StandardCharsets.ISO_8859_1).startsWith("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"));
        assertTrue(Libraries.indexOf(sent, text.getBytes(StandardCharsets.UTF_8), 0) > 0, "the request message in the frames");
        readAllButClosingControlFrames(sent, CapturedEvents.stream(server, false));
        byte[] received = CapturedEvents.stream(client, false);
        assertTrue(Libraries.indexOf(received, answer, 0) > 0, "the answer in the frames the HttpClient read");
        readAllButClosingControlFrames(CapturedEvents.stream(server, true), received);
    }

    /**
     * What one end read is exactly what the other wrote, but for HTTP/2 control frames (SETTINGS,
     * PING, GOAWAY, WINDOW_UPDATE: no application data) the writer may send as the connection
     * closes, which the reader, closing too, need not read.
     */
    private static void readAllButClosingControlFrames(byte[] written, byte[] read) {
        assertTrue(read.length <= written.length, read.length + " bytes read of " + written.length + " written");
        assertArrayEquals(java.util.Arrays.copyOf(written, read.length), read, "what one end wrote, the other read");
        for (int at = read.length; at < written.length; ) {
            assertTrue(at + 9 <= written.length, "a whole frame header in the unread tail");
            int length = ((written[at] & 0xff) << 16) | ((written[at + 1] & 0xff) << 8) | (written[at + 2] & 0xff);
            int type = written[at + 3];
            assertTrue(type == 4 || type == 6 || type == 7 || type == 8, "a control frame unread, not type " + type);
            at += 9 + length;
            assertTrue(at <= written.length, "whole frames in the unread tail");
        }
    }
}
