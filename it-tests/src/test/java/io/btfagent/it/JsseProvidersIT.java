package io.btfagent.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.btfagent.demo.ProviderTls;
import io.btfagent.it.CapturedEvents.Event;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * JSSE providers other than the JDK's, captured at the JSSE API: Conscrypt (its BoringSSL is in
 * a stripped JNI library no uprobe can find) and BouncyCastle's JSSE provider, each as a pair of
 * SSLSockets over loopback TCP (the client's also layered over a plain socket: BouncyCastle's
 * ProvSSLSocketWrap) and as a pair of SSLEngines in memory ({@link ProviderTls}): one
 * event per call, the exact bytes both ways on both ends, nothing twice (Conscrypt's engine
 * socket drives its engine: only the socket's calls are events), the provider's jar and version
 * as libPath and libVersion, and the application's results the same as without the agent.
 */
@Privileged
class JsseProvidersIT {
    private static final String MAIN = "io.btfagent.demo.ProviderTls";

    @TempDir
    Path tmp;

    private static String classpath(String provider) throws Exception {
        Path dir = Path.of(System.getProperty(provider.equals("conscrypt") ? "conscrypt.lib" : "bc.lib"));
        try (Stream<Path> jars = Files.list(dir)) {
            return ChildJvm.CLASSPATH + ":" + jars.map(Path::toString).sorted().collect(Collectors.joining(":"));
        }
    }

    private static ChildJvm jvm(String provider) throws Exception {
        // Conscrypt's sockets read java.net's internals (its own need, with or without the agent)
        return new ChildJvm().classpath(classpath(provider)).jvmArg("--add-opens=java.base/java.net=ALL-UNNAMED");
    }

    @ParameterizedTest(name = "{0} {1}")
    @CsvSource({"conscrypt, socket, conscrypt-openjdk-uber", "conscrypt, layered, conscrypt-openjdk-uber",
            "conscrypt, engine, conscrypt-openjdk-uber", "bc, socket, bctls-jdk18on", "bc, layered, bctls-jdk18on",
            "bc, engine, bctls-jdk18on"})
    void eachCallOnceWithExactBytesOnBothEnds(String provider, String mode, String jar) throws Exception {
        Path jsonl = tmp.resolve("events.jsonl");
        ChildJvm.Result with = jvm(provider).agent("sinks=jsonl,sink.jsonl.path=" + jsonl + ",stats.interval=0")
                .runWhenReady(MAIN, List.of(provider, mode), 180, "traffic", List.of(WildflyCaptureIT.READY));
        with.agentLines().forEach(System.out::println);
        ChildJvm.Result without = jvm(provider).run(MAIN, List.of(provider, mode), 180);
        assertEquals(0, with.exitCode(), "with the agent:\n" + with.stdout() + with.stderr());
        assertEquals(0, without.exitCode(), "without the agent:\n" + without.stdout() + without.stderr());
        assertEquals("true", with.printed().get("ok"), with.stdout());
        assertEquals(without.stdout().replaceAll("(?m)^(server|client)-port \\d+$", ""),
                with.stdout().replaceAll("(?m)^(server|client)-port \\d+$", ""), "the same results with the agent");
        assertTrue(with.agentLines().stream().noneMatch(l -> l.contains("jsse:")), "no weaving problem: " + with.stderr());

        String version = System.getProperty(provider.equals("conscrypt") ? "conscrypt.version" : "bouncycastle.version");
        List<Event> events = CapturedEvents.read(jsonl);
        Map<String, List<Event>> byRole = new LinkedHashMap<>();
        Map<Long, String> conns = new LinkedHashMap<>();
        for (Event e : events) {
            assertEquals("jsse", e.str("lib"), "only the provider's calls, at the API: " + e.fields());
            assertEquals(version, e.str("libVersion"));
            assertEquals(jar + "-" + version + ".jar", Path.of(e.str("libPath")).getFileName().toString());
            assertEquals(e.num("len"), e.num("captured"));
            String before = conns.put(e.num("conn"), e.str("role"));
            assertTrue(before == null || before.equals(e.str("role")), "one role per conn");
            byRole.computeIfAbsent(e.str("role"), k -> new ArrayList<>()).add(e);
        }
        assertEquals(2, conns.size(), "the client's connection and the server's: " + conns);
        List<Event> client = byRole.get("client");
        List<Event> server = byRole.get("server");
        byte[] request = ProviderTls.request();
        byte[] response = ProviderTls.response();
        assertArrayEquals(request, CapturedEvents.stream(client, true), "what the client wrote");
        assertArrayEquals(request, CapturedEvents.stream(server, false), "what the server read");
        assertArrayEquals(response, CapturedEvents.stream(server, true), "what the server wrote");
        assertArrayEquals(response, CapturedEvents.stream(client, false), "what the client read");
        List<Event> clientWrites = client.stream().filter(Event::egress).toList();
        if (mode.equals("engine")) {
            for (Event e : events) {
                assertEquals(e.egress() ? "SSLEngine.wrap" : "SSLEngine.unwrap", e.str("func"));
                assertNull(e.fields().get("local"), "an engine alone has no addresses: never guessed");
                assertNull(e.fields().get("remote"));
            }
            assertEquals(1, clientWrites.size(), "the request fits one wrap: one event");
            assertEquals(1, server.stream().filter(Event::egress).count(), "the response fits one wrap: one event");
        } else {
            String serverAddress = "127.0.0.1:" + with.printed().get("server-port");
            String clientAddress = "127.0.0.1:" + with.printed().get("client-port");
            for (Event e : events) {
                assertEquals(e.egress() ? "SSLSocket.write" : "SSLSocket.read", e.str("func"));
                boolean isClient = e.str("role").equals("client");
                assertEquals(isClient ? clientAddress : serverAddress, e.str("local"));
                assertEquals(isClient ? serverAddress : clientAddress, e.str("remote"));
            }
            // write(b, 0, n - 1), then write(int): two calls, two events
            assertEquals(List.of((long) request.length - 1, 1L),
                    clientWrites.stream().map(e -> e.num("len")).toList());
            // read(): one byte, one event
            Event firstRead = client.stream().filter(e -> !e.egress()).findFirst().orElseThrow();
            assertEquals(1, firstRead.num("len"));
            assertArrayEquals(Arrays.copyOf(response, 1), firstRead.data());
            assertEquals("main", firstRead.str("thread"));
        }
        @SuppressWarnings("unchecked")
        Map<String, Object> jsse = (Map<String, Object>) AgentStats.of(with).fields().get("jsse");
        assertEquals((long) events.size(), jsse.get("calls"));
        assertEquals(events.stream().mapToLong(e -> e.num("len")).sum(), jsse.get("bytes"));
        assertEquals(2L, jsse.get("conns"));
    }
}
