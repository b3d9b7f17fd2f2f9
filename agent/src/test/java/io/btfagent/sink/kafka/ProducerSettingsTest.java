package io.btfagent.sink.kafka;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.btfagent.event.CaptureEvent;
import io.btfagent.event.EventView;
import io.btfagent.sink.EventText;
import io.btfagent.sink.SinkContext;
import io.btfagent.sink.SinkSetting;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.Test;

class ProducerSettingsTest {
    static SinkContext contextOf(Map<String, String> given) {
        return context(given);
    }

    /** The sink's keys as SinkSetup hands them over: given values over declared defaults. */
    private static SinkContext context(Map<String, String> given) {
        Map<String, String> defaults = new LinkedHashMap<>();
        for (SinkSetting s : ProducerSettings.SETTINGS) {
            defaults.put(s.key(), s.defaultValue());
        }
        return new SinkContext() {
            @Override
            public String sinkName() {
                return "kafka";
            }

            @Override
            public String get(String key) {
                return given.containsKey(key) ? given.get(key) : defaults.get(key);
            }

            @Override
            public long longValue(String key, long min, long max) {
                return Long.parseLong(get(key));
            }

            @Override
            public Map<String, String> given() {
                return given;
            }

            @Override
            public void warn(String line) {
                throw new AssertionError(line);
            }
        };
    }

    private static String refused(Map<String, String> given) {
        return assertThrows(IllegalArgumentException.class, () -> ProducerSettings.of(context(given))).getMessage();
    }

    @Test
    void defaultsGiveCompressionBatchingShortWaitsAndNoJmxBeans() {
        ProducerSettings s = ProducerSettings.of(context(Map.of("bootstrap", "127.0.0.1:9092")));
        Properties p = s.producerProperties();
        assertEquals("btf-agent-events", s.topic());
        assertEquals("127.0.0.1:9092", p.get("bootstrap.servers"));
        assertEquals("gzip", p.get("compression.type"));
        assertEquals("20", p.get("linger.ms"));
        assertEquals("262144", p.get("batch.size"));
        assertEquals("1000", p.get("max.block.ms"));
        assertEquals("30000", p.get("delivery.timeout.ms"));
        assertEquals("", p.get("metric.reporters"));
        assertEquals("false", p.get("enable.metrics.push"));
        assertEquals("btf-agent", p.get("client.id"));
        assertEquals(11, p.size(), p.toString());
    }

    @Test
    void otherKeysGoToTheProducerAsGiven() {
        Map<String, String> given = new LinkedHashMap<>();
        given.put("bootstrap", "k1:9092,k2:9092");
        given.put("topic", "tls.events");
        given.put("retries", "7");
        given.put("compression.type", "NONE");
        given.put("security.protocol", "SSL");
        ProducerSettings s = ProducerSettings.of(context(given));
        assertEquals("tls.events", s.topic());
        assertEquals("7", s.producerProperties().get("retries"));
        assertEquals("none", s.producerProperties().get("compression.type"));
        assertEquals("SSL", s.producerProperties().get("security.protocol"));
        assertEquals("k1:9092,k2:9092", s.producerProperties().get("bootstrap.servers"));
    }

    @Test
    void everyProblemIsOneLineNamingTheKey() {
        assertEquals("sink.kafka.bootstrap is not set: give the brokers as host:port[,...]", refused(Map.of()));
        assertEquals("unknown keys sink.kafka.lingerms, sink.kafka.x: neither sink.kafka.bootstrap, sink.kafka.topic"
                + " nor a Kafka producer setting (see ProducerConfig of kafka-clients "
                + ProducerSettings.clientVersion() + ")",
                refused(Map.of("bootstrap", "h:1", "lingerms", "5", "x", "1")));
        assertEquals("sink.kafka.compression.type=zstd is not available in the agent: use gzip or none (lz4, snappy"
                + " and zstd need native code the agent does not load into the application)",
                refused(Map.of("bootstrap", "h:1", "compression.type", "zstd")));
        assertEquals("sink.kafka.value.serializer cannot be set: the sink sends its records as bytes",
                refused(Map.of("bootstrap", "h:1", "value.serializer", "x.Y")));
        assertEquals("sink.kafka.bootstrap.servers cannot be set: give sink.kafka.bootstrap",
                refused(Map.of("bootstrap", "h:1", "bootstrap.servers", "h:2")));
        assertEquals("sink.kafka.topic=a/b is not a topic name (letters, digits, '.', '_', '-'; at most 249)",
                refused(Map.of("bootstrap", "h:1", "topic", "a/b")));
    }

    @Test
    void aBadProducerValueIsOneLineFromKafkasOwnCheck() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new KafkaSink.Provider()
                .create(context(Map.of("bootstrap", "127.0.0.1:1", "linger.ms", "soon"))));
        assertEquals("Invalid value soon for configuration linger.ms: Not a number of type LONG", e.getMessage());
    }

    @Test
    void theRecordKeyIsTheConnAndTheValueTheJsonlLineWithoutItsNewline() {
        CaptureEvent e = new CaptureEvent(1_795_578_011_123_456_789L, 4242, 4250, "main", "openssl", "3.0.22", "/l",
                "SSL_write", "egress", 0x7f3a5c001230L, 17, "client", null, "127.0.0.1:50312", "127.0.0.1:8443", 5, 0,
                5, false, "hello".getBytes(StandardCharsets.US_ASCII));
        assertArrayEquals("17".getBytes(StandardCharsets.US_ASCII), KafkaSink.key(EventView.from(e)));
        KafkaSink sink = (KafkaSink) new KafkaSink.Provider().create(context(Map.of("bootstrap", "127.0.0.1:1")));
        try {
            assertEquals(EventText.json(e), new String(sink.value(EventView.from(e)), StandardCharsets.UTF_8));
        } finally {
            sink.close();
        }
        CaptureEvent noConn = new CaptureEvent(e.epochNanos(), e.pid(), e.tid(), e.thread(), e.lib(), e.libVersion(),
                e.libPath(), e.func(), e.dir(), e.ssl(), 0, null, null, null, null, 5, 0, 5, false, e.data());
        assertArrayEquals("ssl-0x7f3a5c001230".getBytes(StandardCharsets.US_ASCII),
                KafkaSink.key(EventView.from(noConn)));
    }
}
