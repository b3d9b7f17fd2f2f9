package io.btfagent.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.btfagent.it.CapturedEvents.Event;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The kafka sink against a real broker (Kafka's own artifacts, KRaft, one child JVM shared by
 * the class): a JVM with the agent does HTTPS through wildfly-openssl (OpenSSL 3) with both the
 * jsonl and the kafka sink; the topic read back must hold exactly the jsonl sink's events, one
 * record each, keyed by {@code conn}; a broker killed and restarted mid-run loses nothing
 * while the outage stays within {@code delivery.timeout.ms} (the sink holds what it cannot
 * send), fails exactly what waited longer, and a broker down at start costs nothing; an application with its
 * own, older kafka-clients uses it undisturbed while the agent's sink runs.
 */
@Privileged
class KafkaSinkIT extends AgainstEchoServer {
    private static final String CLIENT = "io.btfagent.kafka.KafkaPhasesClient";
    private static final AtomicInteger TOPICS = new AtomicInteger();

    static KafkaBroker broker;

    @BeforeAll
    static void startBroker() throws Exception {
        broker = KafkaBroker.start(Files.createTempDirectory("kafka-it"));
    }

    @AfterAll
    static void stopBroker() throws Exception {
        if (broker != null) {
            broker.close();
        }
    }

    /** A new topic of three partitions, so that keys spread. */
    private static String topic() throws Exception {
        return topic(3);
    }

    private static String topic(int partitions) throws Exception {
        String t = "btf-events-" + TOPICS.incrementAndGet();
        broker.createTopic(t, partitions);
        return t;
    }

    private ChildJvm agentJvm(String topic, Path jsonl, String more) {
        return new ChildJvm().agent("sinks=jsonl,kafka,sink.jsonl.path=" + jsonl + ",sink.kafka.bootstrap="
                + broker.bootstrap() + ",sink.kafka.topic=" + topic + ",stats.interval=1" + more);
    }

    private static List<String> args(int requests) {
        return List.of(HOST, String.valueOf(server.port()), "/", String.valueOf(requests));
    }

    /** Sends the go of phase {@code n} and waits until the client has done it. */
    private static void phase(ChildJvm.Running jvm, int n) throws Exception {
        jvm.send();
        jvm.awaitPrinted("phase-" + n + "-done", 120);
    }

    /** The record values as text, which must be jsonl lines without their newline. */
    private static List<String> values(List<ConsumerRecord<byte[], byte[]>> records) {
        return records.stream().map(r -> new String(r.value(), StandardCharsets.UTF_8)).toList();
    }

    /**
     * The records must be exactly {@code lines} (jsonl lines): each keyed by its event's conn,
     * all of one conn in one partition, in the order the jsonl sink wrote them.
     */
    private static void assertSameEvents(List<String> lines, List<ConsumerRecord<byte[], byte[]>> records) {
        assertEquals(lines.size(), records.size(), "one record per event: " + values(records));
        assertEquals(lines.stream().sorted().toList(), values(records).stream().sorted().toList());
        Map<String, List<String>> byKeyJsonl = new LinkedHashMap<>();
        for (String l : lines) {
            Event e = new Event(CapturedEvents.parseObject(l));
            assertTrue(e.num("conn") > 0, l);
            byKeyJsonl.computeIfAbsent(Long.toString(e.num("conn")), k -> new ArrayList<>()).add(l);
        }
        Map<String, List<String>> byKeyKafka = new LinkedHashMap<>();
        Map<String, Integer> partition = new LinkedHashMap<>();
        for (ConsumerRecord<byte[], byte[]> r : records) {
            String key = new String(r.key(), StandardCharsets.US_ASCII);
            String value = new String(r.value(), StandardCharsets.UTF_8);
            assertEquals(Long.toString(new Event(CapturedEvents.parseObject(value)).num("conn")), key, value);
            assertEquals(partition.computeIfAbsent(key, k -> r.partition()), r.partition(),
                    "one conn, one partition: " + key);
            byKeyKafka.computeIfAbsent(key, k -> new ArrayList<>()).add(value);
        }
        assertEquals(byKeyJsonl, byKeyKafka, "each conn's events in the jsonl order");
    }

    private static long bytes(List<String> lines) {
        return lines.stream().mapToLong(l -> new Event(CapturedEvents.parseObject(l)).data().length).sum();
    }

    /**
     * The kafka sink's counts: exactly {@code delivered} delivered and {@code failed} failed, in
     * events and in bytes, and none dropped for a full queue or at exit.
     */
    private static void assertDeliveredAndFailed(AgentStats s, List<String> delivered, List<String> failed) {
        assertEquals(delivered.size(), s.sink("kafka", "delivered_events"), s.toString());
        assertEquals(bytes(delivered), s.sink("kafka", "delivered_bytes"), s.toString());
        assertEquals(failed.size(), s.sink("kafka", "failed_events"), s.toString());
        assertEquals(bytes(failed), s.sink("kafka", "failed_bytes"), s.toString());
        assertEquals(0, s.sink("kafka", "queue_full_events"), s.toString());
        assertEquals(0, s.sink("kafka", "exit_events"), s.toString());
    }

    /** Events the producer expired after delivery.timeout.ms; the counter exists once one was. */
    private static long timedOut(AgentStats s) {
        return s.fields().toString().contains("failed_TimeoutException=") ? s.sink("kafka", "failed_TimeoutException")
                : 0;
    }

    /** Events held unsent (no metadata) longer than delivery.timeout.ms; the counter exists once one was. */
    private static long unsent(AgentStats s) {
        return s.fields().toString().contains("failed_unsent=") ? s.sink("kafka", "failed_unsent") : 0;
    }

    private static List<String> lines(Path jsonl) throws Exception {
        return Files.readAllLines(jsonl).stream().filter(l -> !l.isBlank()).toList();
    }

    private static void assertNoStackTrace(ChildJvm.Result r) {
        assertFalse(r.stderr().lines().anyMatch(l -> l.startsWith("\tat ") || l.startsWith("Caused by")),
                r.stderr());
    }

    @Test
    void everyEventIsOneRecordKeyedByConnEqualToTheJsonlLine() throws Exception {
        String topic = topic();
        Path jsonl = tmp.resolve("events.jsonl");
        ChildJvm.Result r;
        try (ChildJvm.Running jvm = agentJvm(topic, jsonl, "").start(CLIENT, args(3))) {
            jvm.awaitStderr(WildflyCaptureIT.READY, 120);
            phase(jvm, 1);
            // before the client exits: at exit the agent waits only briefly for its sinks
            jvm.awaitStderr("\"kafka\":{\"delivered\":6,", 60);
            r = jvm.finish(60);
        }
        assertEquals(0, r.exitCode(), r.stderr());
        List<String> lines = lines(jsonl);
        assertEquals(6, lines.size(), "three requests and three responses: " + lines);
        assertSameEvents(lines, broker.consume(topic, lines.size(), 60));
        AgentStats s = AgentStats.of(r);
        assertEquals(6, s.sink("kafka", "delivered_events"), s.toString());
        assertEquals(bytes(lines), s.sink("kafka", "delivered_bytes"), s.toString());
        for (String f : List.of("queue_full_events", "failed_events", "exit_events")) {
            assertEquals(0, s.sink("kafka", f), f + " in " + s);
        }
        assertEquals(List.of(), r.agentLines().stream().filter(l -> l.contains(" WARN ")).toList());
        assertNoStackTrace(r);
    }

    /** The agent's WARN lines about the kafka sink. */
    private static List<String> kafkaWarnings(ChildJvm.Result r) {
        return r.agentLines().stream().filter(l -> l.contains("WARN  sink kafka")).toList();
    }

    /** Exactly one line when the fault began and one when it ended, naming the broker. */
    private static void assertOneFaultTwoLines(ChildJvm.Result r) {
        List<String> w = kafkaWarnings(r);
        String all = String.join("\n", r.agentLines());
        assertEquals(1, w.stream().filter(l -> l.contains("WARN  sink kafka cannot write now: cannot deliver to the broker"
                + " at " + broker.bootstrap() + ": ")).count(), all);
        assertEquals(1, w.stream().filter(l -> l.contains("WARN  sink kafka writes again after ")).count(), all);
    }

    @Test
    void aBrokerRestartedWithinTheDeliveryTimeoutUnderSteadyLoadLosesNothingAndKeepsEachConnsOrder()
            throws Exception {
        String topic = topic();
        Path jsonl = tmp.resolve("events.jsonl");
        ChildJvm.Result r;
        long outageMs;
        try (ChildJvm.Running jvm = agentJvm(topic, jsonl,
                ",sink.kafka.delivery.timeout.ms=120000,sink.kafka.request.timeout.ms=3000").start(CLIENT, args(2))) {
            jvm.awaitStderr(WildflyCaptureIT.READY, 120);
            phase(jvm, 1);
            jvm.awaitStderr("\"kafka\":{\"delivered\":4,", 60); // the broker acknowledged phase 1
            long down = System.nanoTime();
            broker.kill();
            try {
                for (int n = 2; n <= 5; n++) { // the application goes on: a phase a second
                    phase(jvm, n);
                    Thread.sleep(1_000);
                }
                jvm.awaitStderr("WARN  sink kafka cannot write now: ", 60);
            } finally {
                broker.start();
            }
            outageMs = (System.nanoTime() - down) / 1_000_000;
            phase(jvm, 6);
            jvm.awaitStderr("\"kafka\":{\"delivered\":24,", 120); // by itself, once the broker is back
            jvm.awaitStderr("WARN  sink kafka writes again after ", 60);
            r = jvm.finish(60);
        }
        System.out.println("broker down for " + outageMs + " ms; the agent printed:");
        r.agentLines().forEach(l -> System.out.println("  " + l));
        assertEquals(0, r.exitCode(), r.stderr());
        List<String> lines = lines(jsonl);
        assertEquals(24, lines.size(), "six phases of two requests and responses: " + lines);
        // every event once (one record per jsonl line), each conn's in the jsonl order
        assertSameEvents(lines, broker.consume(topic, lines.size(), 60));
        AgentStats s = AgentStats.of(r);
        assertDeliveredAndFailed(s, lines, List.of());
        assertOneFaultTwoLines(r);
        assertEquals(2, kafkaWarnings(r).size(), String.join("\n", r.agentLines()));
        assertNoStackTrace(r);
    }

    @Test
    void aBrokerDownLongerThanTheDeliveryTimeoutFailsWhatWaitedThatLongCountedExactlyAndDeliveryResumes()
            throws Exception {
        String topic = topic();
        Path jsonl = tmp.resolve("events.jsonl");
        ChildJvm.Result r;
        try (ChildJvm.Running jvm = agentJvm(topic, jsonl,
                ",sink.kafka.delivery.timeout.ms=3000,sink.kafka.request.timeout.ms=2000,sink.kafka.linger.ms=0")
                .start(CLIENT, args(2))) {
            jvm.awaitStderr(WildflyCaptureIT.READY, 120);
            phase(jvm, 1);
            jvm.awaitStderr("\"kafka\":{\"delivered\":4,", 60); // the broker acknowledged phase 1
            broker.kill();
            try {
                phase(jvm, 2);
                // phase 2's records waited longer than delivery.timeout.ms
                jvm.awaitStderr("\"kafka\":{\"delivered\":4,\"dropped\":0,\"failed\":4,", 60);
            } finally {
                broker.start();
            }
            phase(jvm, 3);
            jvm.awaitStderr("\"kafka\":{\"delivered\":8,", 60); // by itself, once the broker is back
            jvm.awaitStderr("WARN  sink kafka writes again after ", 60);
            r = jvm.finish(60);
        }
        System.out.println("the agent printed:");
        r.agentLines().forEach(l -> System.out.println("  " + l));
        assertEquals(0, r.exitCode(), r.stderr());
        List<String> lines = lines(jsonl);
        assertEquals(12, lines.size(), "three phases of two requests and responses: " + lines);
        List<String> delivered = new ArrayList<>(lines.subList(0, 4));
        delivered.addAll(lines.subList(8, 12));
        List<String> lost = lines.subList(4, 8);
        assertSameEvents(delivered, broker.consume(topic, delivered.size(), 60));

        AgentStats s = AgentStats.of(r);
        assertDeliveredAndFailed(s, delivered, lost);
        assertEquals(s.sink("jsonl", "delivered_bytes"), bytes(lines));
        // expired by the producer, or held unsent (no metadata) that long; on a busy machine one can
        // also expire still queued, before the sink took it, which the dispatcher fails (its
        // count is in failed, exact above, not among the sink's reasons)
        long reasons = timedOut(s) + unsent(s);
        assertTrue(reasons >= 1 && reasons <= 4, s.toString());
        assertOneFaultTwoLines(r);
        String end = kafkaWarnings(r).stream().filter(l -> l.contains("writes again after ")).findFirst().orElseThrow();
        assertTrue(end.contains(", dropped 0 events (0 bytes) (queue full), failed 4 events (" + bytes(lost)
                + " bytes) (waited longer than 3 s)"), end);
        // and the periodic loss warning (every 10 s, so at most once here) for what was lost
        long lossLines = kafkaWarnings(r).stream().filter(l -> l.contains("WARN  sink kafka failed on 4 events ("
                + bytes(lost) + " bytes) since the last report")).count();
        assertTrue(lossLines <= 1, String.join("\n", r.agentLines()));
        assertEquals(2 + lossLines, kafkaWarnings(r).size(), String.join("\n", r.agentLines()));
        assertNoStackTrace(r);
    }

    @Test
    void aBrokerDownAtStartHoldsTheEventsAndDeliversThemWhenItIsUp() throws Exception {
        String topic = topic();
        Path jsonl = tmp.resolve("events.jsonl");
        ChildJvm.Result r;
        broker.kill();
        try (ChildJvm.Running jvm = agentJvm(topic, jsonl, ",sink.kafka.max.block.ms=3000"
                + ",sink.kafka.delivery.timeout.ms=120000").start(CLIENT, args(1))) {
            try {
                jvm.awaitStderr(WildflyCaptureIT.READY, 120);
                phase(jvm, 1);
                // no metadata: the first send gives up after max.block.ms, the events are held
                jvm.awaitStderr("WARN  sink kafka cannot write now: ", 60);
            } finally {
                broker.start();
            }
            jvm.awaitStderr("\"kafka\":{\"delivered\":2,", 120); // by itself, once the broker is up
            phase(jvm, 2);
            jvm.awaitStderr("\"kafka\":{\"delivered\":4,", 60);
            r = jvm.finish(60);
        }
        assertEquals(0, r.exitCode(), r.stderr());
        List<String> lines = lines(jsonl);
        assertEquals(4, lines.size(), "two phases of one request and its response: " + lines);
        assertSameEvents(lines, broker.consume(topic, 4, 60));
        AgentStats s = AgentStats.of(r);
        assertDeliveredAndFailed(s, lines, List.of());
        assertOneFaultTwoLines(r);
        String begin = kafkaWarnings(r).get(0);
        assertTrue(begin.contains("TimeoutException: Topic " + topic + " not present in metadata after 3000 ms"), begin);
        assertEquals(2, kafkaWarnings(r).size(), String.join("\n", r.agentLines()));
        assertNoStackTrace(r);
        // kafka-clients' own warnings (retrying the broker) are single lines, a repeat held back
        List<String> kafkaLines = r.agentLines().stream().filter(l -> l.contains("  kafka: ")).map(l -> l.substring(
                l.indexOf("  kafka: "))).toList();
        System.out.println("kafka-clients lines:\n" + String.join("\n", kafkaLines));
        assertEquals(kafkaLines.stream().distinct().toList(), kafkaLines, "repeated lines");
    }

    @Test
    void anApplicationWithItsOwnKafkaClientsOfAnotherVersionRunsAsWithoutTheAgent() throws Exception {
        String cp = System.getProperty("kafka.app.classpath");
        String topic = topic();
        String appWithout = topic(1); // the application reads back partition 0
        String appWith = topic(1);
        Path jsonl = tmp.resolve("events.jsonl");
        ChildJvm.Result without;
        try (ChildJvm.Running jvm = new ChildJvm().classpath(cp).jvmArg("-Dapp.kafka.bootstrap=" + broker.bootstrap())
                .jvmArg("-Dapp.kafka.topic=" + appWithout).start(CLIENT, args(2))) {
            phase(jvm, 1);
            without = jvm.finish(60);
        }
        ChildJvm.Result with;
        try (ChildJvm.Running jvm = agentJvm(topic, jsonl, "").classpath(cp)
                .jvmArg("-Dapp.kafka.bootstrap=" + broker.bootstrap()).jvmArg("-Dapp.kafka.topic=" + appWith)
                .start(CLIENT, args(2))) {
            jvm.awaitStderr(WildflyCaptureIT.READY, 120);
            phase(jvm, 1);
            jvm.awaitStderr("\"kafka\":{\"delivered\":4,", 60);
            with = jvm.finish(60);
        }
        assertEquals(0, without.exitCode(), without.stderr());
        assertEquals(0, with.exitCode(), with.stderr());
        assertEquals("2", without.printed().get("app-kafka-received"), without.stdout());
        assertEquals(System.getProperty("kafka.app.version"), with.printed().get("app-kafka-version"));
        assertEquals("2", with.printed().get("app-kafka-received"), with.stdout());
        assertEquals(without.stdout(), with.stdout());
        assertEquals(without.comparableStderr(), with.comparableStderr());
        assertEquals(2, broker.consume(appWith, 2, 60).size());

        List<String> lines = lines(jsonl);
        assertEquals(4, lines.size(), "two requests and two responses, nothing of the application's Kafka: " + lines);
        assertSameEvents(lines, broker.consume(topic, 4, 60));
        AgentStats s = AgentStats.of(with);
        assertEquals(4, s.sink("kafka", "delivered_events"), s.toString());
        assertEquals(List.of(), with.agentLines().stream().filter(l -> l.contains(" WARN ")).toList());
    }

    @Test
    void anUnknownProducerKeyIsOneLineAndJsonlStillRuns() throws Exception {
        Path jsonl = tmp.resolve("events.jsonl");
        ChildJvm.Result r;
        try (ChildJvm.Running jvm = agentJvm("unused", jsonl, ",sink.kafka.lingerms=5").start(CLIENT, args(1))) {
            jvm.awaitStderr(WildflyCaptureIT.READY, 120);
            phase(jvm, 1);
            r = jvm.finish(60);
        }
        assertEquals(0, r.exitCode(), r.stderr());
        List<String> warnings = r.agentLines().stream().filter(l -> l.contains(" WARN ")).toList();
        assertEquals(1, warnings.size(), String.join("\n", r.agentLines()));
        assertTrue(warnings.get(0).endsWith("WARN  sink kafka not started: unknown key sink.kafka.lingerms: neither"
                + " sink.kafka.bootstrap, sink.kafka.topic nor a Kafka producer setting (see ProducerConfig of"
                + " kafka-clients " + System.getProperty("kafka.version") + ")"), warnings.get(0));
        assertEquals(2, lines(jsonl).size());
        assertNoStackTrace(r);
    }
}
