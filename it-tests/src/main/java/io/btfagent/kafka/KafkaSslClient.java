package io.btfagent.kafka;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * A Kafka application over SSL (the JDK's own TLS: Kafka's SslTransportLayer drives an
 * SSLEngine): produces {@code count} records ({@link #value}) to partition 0 of {@code topic},
 * then reads that partition back from its start with a consumer. Prints
 * {@code produced <i> <base64>} for each record sent, {@code consumed <offset> <base64>} for each
 * read, and {@code values-ok true|false}.
 *
 * With {@code -Ddemo.await-go} containing {@code traffic} it first waits for one line on stdin
 * (the test sends it once the agent's capture is ready).
 *
 * <p>Usage: {@code KafkaSslClient <bootstrap> <topic> <ca-certificate.pem> <count>}
 */
public final class KafkaSslClient {
    private KafkaSslClient() {
    }

    /** The i-th record's value: distinct, and long enough to be found only where it was sent. */
    public static byte[] value(int i) {
        return ("kafka-over-jsse record " + i + " " + "abcdefghij".repeat(3 + 7 * i) + " end " + i)
                .getBytes(StandardCharsets.US_ASCII);
    }

    public static void main(String[] args) throws Exception {
        String bootstrap = args[0];
        String topic = args[1];
        String ca = args[2];
        int count = Integer.parseInt(args[3]);
        if (System.getProperty("demo.await-go", "").contains("traffic")) {
            new java.io.BufferedReader(new java.io.InputStreamReader(System.in, StandardCharsets.UTF_8)).readLine();
        }
        Properties ssl = new Properties();
        ssl.put("bootstrap.servers", bootstrap);
        ssl.put("security.protocol", "SSL");
        ssl.put("ssl.truststore.type", "PEM");
        ssl.put("ssl.truststore.location", ca);
        ssl.put("request.timeout.ms", "20000");

        Properties p = new Properties();
        p.putAll(ssl);
        p.put("acks", "all");
        p.put("linger.ms", "0");
        p.put("compression.type", "none");
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(p, new ByteArraySerializer(),
                new ByteArraySerializer())) {
            for (int i = 0; i < count; i++) {
                producer.send(new ProducerRecord<>(topic, 0, null, value(i))).get(60, TimeUnit.SECONDS);
                System.out.println("produced " + i + " " + Base64.getEncoder().encodeToString(value(i)));
            }
        }

        Properties c = new Properties();
        c.putAll(ssl);
        c.put("enable.auto.commit", "false");
        List<ConsumerRecord<byte[], byte[]>> got = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(c, new ByteArrayDeserializer(),
                new ByteArrayDeserializer())) {
            TopicPartition tp = new TopicPartition(topic, 0);
            consumer.assign(List.of(tp));
            consumer.seekToBeginning(List.of(tp));
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
            while (got.size() < count && System.nanoTime() < deadline) {
                consumer.poll(Duration.ofMillis(200)).forEach(got::add);
            }
        }
        boolean ok = got.size() == count;
        for (ConsumerRecord<byte[], byte[]> r : got) {
            System.out.println("consumed " + r.offset() + " " + Base64.getEncoder().encodeToString(r.value()));
            ok &= java.util.Arrays.equals(r.value(), value((int) r.offset()));
        }
        System.out.println("values-ok " + ok);
        System.out.flush();
        System.exit(ok ? 0 : 1);
    }
}
