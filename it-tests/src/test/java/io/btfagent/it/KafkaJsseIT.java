package io.btfagent.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.btfagent.it.CapturedEvents.Event;
import io.btfagent.kafka.KafkaSslClient;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A Kafka client over SSL (kafka-clients' SslTransportLayer over the JDK's SSLEngine) to the
 * real KRaft broker of the kafka sink's tests, given an SSL listener with the test's own
 * certificate: each record's exact bytes are captured once as the producer sends them and once
 * as the consumer receives them, on connections that carry role, the channel's addresses (the
 * woven SslTransportLayer's) and the client's threads; and the application reads what it wrote,
 * with the agent as without.
 */
@Privileged
class KafkaJsseIT {
    private static final String CLIENT = "io.btfagent.kafka.KafkaSslClient";
    private static final int RECORDS = 5;

    @TempDir
    Path tmp;

    @Test
    void recordsAreCapturedOnceEachWayWithTheChannelsAddresses() throws Exception {
        Path[] cert = NettyStack.selfSignedCertificate(tmp);
        Path keystore = tmp.resolve("keystore.pem");
        Files.writeString(keystore, Files.readString(cert[1]) + Files.readString(cert[0]));
        String cp = System.getProperty("kafka.app.classpath");
        Path jsonl = tmp.resolve("events.jsonl");
        ChildJvm.Result with;
        ChildJvm.Result without;
        String ssl;
        try (KafkaBroker broker = KafkaBroker.start(Files.createTempDirectory("kafka-ssl-it"), keystore)) {
            ssl = broker.sslBootstrap();
            broker.createTopic("with-agent", 1);
            broker.createTopic("without-agent", 1);
            broker.createTopic("agent-events", 1);
            // the agent's own Kafka sink over the same SSL listener: its connections are left out
            with = new ChildJvm().classpath(cp).agent("sinks=jsonl,kafka,sink.jsonl.path=" + jsonl
                    + ",sink.kafka.bootstrap=" + ssl + ",sink.kafka.topic=agent-events"
                    + ",sink.kafka.security.protocol=SSL,sink.kafka.ssl.truststore.type=PEM"
                    + ",sink.kafka.ssl.truststore.location=" + cert[0] + ",stats.interval=0")
                    .runWhenReady(CLIENT, List.of(ssl, "with-agent", cert[0].toString(), String.valueOf(RECORDS)),
                            180, "traffic", List.of(WildflyCaptureIT.READY));
            without = new ChildJvm().classpath(cp).run(CLIENT,
                    List.of(ssl, "without-agent", cert[0].toString(), String.valueOf(RECORDS)), 180);
        }
        with.agentLines().forEach(System.out::println);
        assertEquals(0, with.exitCode(), "client failed with the agent:\n" + with.stdout() + with.stderr());
        assertEquals(0, without.exitCode(), "client failed without the agent:\n" + without.stdout() + without.stderr());
        assertEquals("true", with.printed().get("values-ok"), with.stdout());
        assertEquals(without.stdout(), with.stdout(), "the application's results are the same with the agent");
        assertTrue(with.agentLines().stream().noneMatch(l -> l.contains("Kafka not woven")), with.stderr());

        List<Event> events = CapturedEvents.read(jsonl);
        Map<Long, List<Event>> byConn = new LinkedHashMap<>();
        for (Event e : events) {
            assertEquals("jsse", e.str("lib"), "only JSSE in this JVM: " + e.fields());
            assertFalse(e.str("thread").contains("btf-agent"), "the agent's own sink is not captured: " + e.fields());
            byConn.computeIfAbsent(e.num("conn"), k -> new ArrayList<>()).add(e);
        }
        assertTrue(byConn.size() >= 2, "a producer's and a consumer's connection at least: " + byConn.keySet());
        Set<String> locals = new HashSet<>();
        for (List<Event> conn : byConn.values()) {
            String local = conn.get(0).str("local");
            assertNotNull(local, "the channel's address of conn " + conn.get(0).num("conn"));
            assertTrue(local.startsWith("127.0.0.1:"), local);
            assertTrue(locals.add(local), "one TCP connection per conn: " + local + " twice");
            for (Event e : conn) {
                assertEquals("client", e.str("role"));
                assertEquals(ssl, e.str("remote"));
                assertEquals(local, e.str("local"));
                assertEquals(e.egress() ? "SSLEngine.wrap" : "SSLEngine.unwrap", e.str("func"));
                assertEquals(with.pid(), e.num("pid"));
                assertEquals(e.num("len"), e.num("captured"));
            }
        }
        for (int i = 0; i < RECORDS; i++) {
            byte[] value = KafkaSslClient.value(i);
            List<Event> sentOn = connsWith(byConn, value, true);
            List<Event> readOn = connsWith(byConn, value, false);
            assertEquals(1, sentOn.size(), "record " + i + " sent once, on one connection");
            assertEquals(1, readOn.size(), "record " + i + " received once, on one connection");
            assertEquals(1, occurrences(CapturedEvents.stream(byConn.get(sentOn.get(0).num("conn")), true), value));
            assertEquals(1, occurrences(CapturedEvents.stream(byConn.get(readOn.get(0).num("conn")), false), value));
            assertTrue(sentOn.get(0).str("thread").startsWith("kafka-producer-network-thread"),
                    sentOn.get(0).str("thread"));
            assertEquals("main", readOn.get(0).str("thread"), "the classic consumer does its I/O in poll()");
        }
        @SuppressWarnings("unchecked")
        Map<String, Object> jsse = (Map<String, Object>) AgentStats.of(with).fields().get("jsse");
        assertEquals((long) events.size(), jsse.get("calls"));
        assertEquals(events.stream().mapToLong(e -> e.num("len")).sum(), jsse.get("bytes"));
        assertEquals(0L, AgentStats.of(with).sink("jsonl", "dropped"));
        assertEquals((long) events.size(), AgentStats.of(with).sink("kafka", "delivered"),
                "the agent's Kafka sink delivered every event over SSL");
    }

    /** The first event of each connection whose stream in that direction holds {@code value}. */
    private static List<Event> connsWith(Map<Long, List<Event>> byConn, byte[] value, boolean egress) {
        return byConn.values().stream()
                .filter(c -> occurrences(CapturedEvents.stream(c, egress), value) > 0)
                .map(c -> c.stream().filter(e -> e.egress() == egress).findFirst().orElseThrow())
                .collect(Collectors.toList());
    }

    private static int occurrences(byte[] hay, byte[] needle) {
        int n = 0;
        for (int at = Libraries.indexOf(hay, needle, 0); at >= 0; at = Libraries.indexOf(hay, needle, at + 1)) {
            n++;
        }
        return n;
    }
}
