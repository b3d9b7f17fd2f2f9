package io.btfagent.sink.kafka;

import io.btfagent.sink.SinkContext;
import io.btfagent.sink.SinkSetting;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * The kafka sink's settings: {@code sink.kafka.bootstrap} and {@code sink.kafka.topic}, and any
 * other {@code sink.kafka.<key>} handed to the producer as {@code <key>}, over the sink's own
 * defaults (compression, batching, and short waits so that a broker that is down never holds
 * the sink for long). Everything is checked at start; a problem is one line naming the key.
 */
record ProducerSettings(String topic, Properties producerProperties) {

    /** Codecs whose code is in the agent: the JDK's gzip, or none. */
    static final Set<String> CODECS = Set.of("gzip", "none");

    /** Producer keys the sink sets itself. */
    private static final Map<String, String> OWN = Map.of(
            "bootstrap.servers", "give sink.kafka.bootstrap",
            "key.serializer", "the sink sends its records as bytes",
            "value.serializer", "the sink sends its records as bytes",
            "transactional.id", "the sink does not use transactions");

    static final List<SinkSetting> SETTINGS = List.of(
            new SinkSetting("bootstrap", null, "the brokers, host:port[,host:port...] (required)"),
            new SinkSetting("topic", "btf-agent-events", "the topic every event goes to"),
            new SinkSetting("client.id", "btf-agent", "the producer's client.id"),
            new SinkSetting("acks", "all", "acknowledgements a record needs"),
            new SinkSetting("compression.type", "gzip", "gzip or none (other codecs need native code the agent"
                    + " does not carry)"),
            new SinkSetting("linger.ms", "20", "how long the producer waits to fill a batch"),
            new SinkSetting("batch.size", "262144", "largest batch per partition, in bytes"),
            new SinkSetting("max.block.ms", "1000", "longest a send waits for the broker's metadata or buffer"
                    + " space; the event is then held and sent again after a pause"),
            new SinkSetting("request.timeout.ms", "10000", "longest wait for one request's answer"),
            new SinkSetting("delivery.timeout.ms", "30000", "longest a record may take to be delivered,"
                    + " retries and waiting for an unreachable broker included, before it fails"),
            new SinkSetting("metric.reporters", "", "the producer's metric reporters (none: no JMX beans)"),
            new SinkSetting("enable.metrics.push", "false", "whether the producer pushes its metrics to the broker"));

    static ProducerSettings of(SinkContext c) {
        String bootstrap = c.get("bootstrap");
        if (bootstrap == null || bootstrap.isBlank()) {
            throw new IllegalArgumentException("sink.kafka.bootstrap is not set: give the brokers as host:port[,...]");
        }
        String topic = c.get("topic");
        if (topic == null || !topic.matches("[a-zA-Z0-9._-]{1,249}")) {
            throw new IllegalArgumentException("sink.kafka.topic=" + topic + " is not a topic name (letters,"
                    + " digits, '.', '_', '-'; at most 249)");
        }
        Set<String> producerKeys = ProducerConfig.configNames();
        Properties p = new Properties();
        Set<String> unknown = new TreeSet<>();
        for (SinkSetting s : SETTINGS) {
            if (s.defaultValue() != null && producerKeys.contains(s.key())) {
                p.put(s.key(), s.defaultValue());
            }
        }
        for (Map.Entry<String, String> e : c.given().entrySet()) {
            String k = e.getKey();
            if (k.equals("bootstrap") || k.equals("topic")) {
                continue;
            }
            if (OWN.containsKey(k)) {
                throw new IllegalArgumentException("sink.kafka." + k + " cannot be set: " + OWN.get(k));
            }
            if (!producerKeys.contains(k)) {
                unknown.add("sink.kafka." + k);
                continue;
            }
            p.put(k, e.getValue());
        }
        if (!unknown.isEmpty()) {
            throw new IllegalArgumentException("unknown key" + (unknown.size() > 1 ? "s " : " ")
                    + String.join(", ", unknown) + ": neither sink.kafka.bootstrap, sink.kafka.topic nor a Kafka"
                    + " producer setting (see ProducerConfig of kafka-clients " + clientVersion() + ")");
        }
        String codec = String.valueOf(p.get("compression.type")).trim().toLowerCase(Locale.ROOT);
        if (!CODECS.contains(codec)) {
            throw new IllegalArgumentException("sink.kafka.compression.type=" + p.get("compression.type")
                    + " is not available in the agent: use gzip or none (lz4, snappy and zstd need native code"
                    + " the agent does not load into the application)");
        }
        p.put("compression.type", codec);
        p.put("bootstrap.servers", bootstrap.trim());
        return new ProducerSettings(topic, p);
    }

    /**
     * Checks every value the way the producer will (types, ranges, known values), without
     * making a producer.
     *
     * @throws org.apache.kafka.common.config.ConfigException naming the key and the value
     */
    void check() {
        Properties p = new Properties();
        p.putAll(producerProperties);
        p.put("key.serializer", ByteArraySerializer.class.getName());
        p.put("value.serializer", ByteArraySerializer.class.getName());
        new ProducerConfig(p);
    }

    static String clientVersion() {
        return org.apache.kafka.common.utils.AppInfoParser.getVersion();
    }

    /** A Kafka exception and its causes' messages, in one line. */
    static String oneLine(Throwable e) {
        List<String> parts = new ArrayList<>();
        for (Throwable t = e; t != null && parts.size() < 4; t = t.getCause()) {
            String m = t.getMessage() == null || t instanceof LinkageError ? t.toString() : t.getMessage();
            if (!parts.contains(m)) {
                parts.add(m);
            }
        }
        return String.join(": ", parts).replace('\n', ' ');
    }
}
