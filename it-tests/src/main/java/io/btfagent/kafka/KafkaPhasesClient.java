package io.btfagent.kafka;

import io.btfagent.demo.WildflyHttpsClient;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.apache.kafka.common.utils.AppInfoParser;

/**
 * An application for the kafka sink's tests: HTTPS through wildfly-openssl in phases, one per
 * line on stdin (each phase makes {@code requests} requests, then prints
 * {@code phase-<n>-done <n>}); it exits at the end of stdin. With {@code -Dapp.kafka.bootstrap}
 * and {@code -Dapp.kafka.topic} it also uses its own kafka-clients (whatever version is on its
 * class path, printed as {@code app-kafka-version}) in each phase: sends {@code requests}
 * records and reads its topic back, printing {@code app-kafka-received <count>}.
 *
 * <p>Usage: {@code KafkaPhasesClient <host> <port> <path> <requests>}
 */
public final class KafkaPhasesClient {
    private KafkaPhasesClient() {
    }

    public static void main(String[] args) throws Exception {
        String host = args[0];
        int port = Integer.parseInt(args[1]);
        String path = args[2];
        int requests = Integer.parseInt(args[3]);
        String bootstrap = System.getProperty("app.kafka.bootstrap");
        String topic = System.getProperty("app.kafka.topic");
        WildflyHttpsClient client = new WildflyHttpsClient();
        // only touched with app.kafka.bootstrap: without it the class path has no kafka-clients
        AppKafka kafka = bootstrap == null ? null : new AppKafka(bootstrap, topic);
        BufferedReader stdin = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        int phase = 0;
        int sent = 0;
        while (stdin.readLine() != null) {
            phase++;
            for (int i = 0; i < requests; i++) {
                WildflyHttpsClient.Exchange e = client.get(host, port, path);
                System.out.println("request-sha256 " + WildflyHttpsClient.sha256(e.request()));
                if (kafka != null) {
                    kafka.send(sent++);
                }
            }
            if (kafka != null) {
                System.out.println("app-kafka-received " + kafka.readBack(sent));
            }
            System.out.println("phase-" + phase + "-done " + phase);
            System.out.flush();
        }
        if (kafka != null) {
            kafka.close();
        }
        System.out.flush();
        System.exit(0);
    }

    /** The application's own Kafka producer and consumer. */
    private static final class AppKafka {
        private final String bootstrap;
        private final String topic;
        private final KafkaProducer<String, String> producer;

        AppKafka(String bootstrap, String topic) {
            this.bootstrap = bootstrap;
            this.topic = topic;
            Properties p = new Properties();
            p.put("bootstrap.servers", bootstrap);
            producer = new KafkaProducer<>(p, new StringSerializer(), new StringSerializer());
            System.out.println("app-kafka-version " + AppInfoParser.getVersion());
        }

        void send(int n) throws Exception {
            producer.send(new ProducerRecord<>(topic, "k" + n, "app record " + n)).get();
        }

        void close() {
            producer.close(Duration.ofSeconds(10));
        }

        /** Reads the topic from the start until {@code expected} records (or 30 s); their count. */
        int readBack(int expected) {
            Properties p = new Properties();
            p.put("bootstrap.servers", bootstrap);
            p.put("enable.auto.commit", "false");
            int n = 0;
            try (KafkaConsumer<String, String> c = new KafkaConsumer<>(p, new StringDeserializer(),
                    new StringDeserializer())) {
                List<TopicPartition> parts = List.of(new TopicPartition(topic, 0));
                c.assign(parts);
                c.seekToBeginning(parts);
                long deadline = System.nanoTime() + 30_000_000_000L;
                while (n < expected && System.nanoTime() < deadline) {
                    for (ConsumerRecord<String, String> r : c.poll(Duration.ofMillis(200))) {
                        if (!r.value().equals("app record " + r.offset())) {
                            throw new IllegalStateException("unexpected record " + r);
                        }
                        n++;
                    }
                }
            }
            return n;
        }
    }
}
