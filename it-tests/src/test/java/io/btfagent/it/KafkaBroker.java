package io.btfagent.it;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Properties;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.Uuid;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

/**
 * A real Kafka broker (Kafka's own kafka_2.13 from Maven Central, on this test JVM's class
 * path) in KRaft mode, broker and controller in one child JVM on free loopback ports, its log
 * dir formatted with Kafka's storage tool. {@link #kill} and {@link #start} stop and restart it
 * on the same ports and data; {@link #close} stops it by pid and deletes its directory.
 */
final class KafkaBroker implements AutoCloseable {
    /** The broker runs on this test JVM's own java, whatever JDK the agent's children use. */
    private static final String JAVA = Path.of(System.getProperty("java.home"), "bin", "java").toString();

    private final Path dir;
    private final int port;
    private final int controllerPort;
    /** The SSL listener's port, or -1 without one. */
    private final int sslPort;
    private final Path config;
    private Process process;
    private int starts;

    /** @param pemKeystore a PEM file with the SSL listener's private key and certificate, or null for none */
    private KafkaBroker(Path dir, Path pemKeystore) throws IOException {
        this.dir = dir;
        this.port = freePort();
        this.controllerPort = freePort();
        this.sslPort = pemKeystore == null ? -1 : freePort();
        this.config = dir.resolve("server.properties");
        String ssl = pemKeystore == null ? "" : ",SSL://127.0.0.1:" + sslPort;
        Files.writeString(dir.resolve("logback.xml"), """
                <configuration>
                  <appender name="out" class="ch.qos.logback.core.ConsoleAppender">
                    <encoder><pattern>%d %-5level %logger{20} %msg%n</pattern></encoder>
                  </appender>
                  <root level="WARN"><appender-ref ref="out"/></root>
                </configuration>
                """);
        Files.writeString(config, String.join("\n",
                "process.roles=broker,controller",
                "node.id=1",
                "controller.quorum.voters=1@127.0.0.1:" + controllerPort,
                "listeners=PLAINTEXT://127.0.0.1:" + port + ",CONTROLLER://127.0.0.1:" + controllerPort + ssl,
                "advertised.listeners=PLAINTEXT://127.0.0.1:" + port + ssl,
                "controller.listener.names=CONTROLLER",
                "inter.broker.listener.name=PLAINTEXT",
                "listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT,SSL:SSL",
                pemKeystore == null ? "" : "ssl.keystore.type=PEM",
                pemKeystore == null ? "" : "ssl.keystore.location=" + pemKeystore,
                "log.dirs=" + dir.resolve("data"),
                "num.partitions=1",
                "auto.create.topics.enable=false",
                "offsets.topic.replication.factor=1",
                "transaction.state.log.replication.factor=1",
                "transaction.state.log.min.isr=1",
                "share.coordinator.state.topic.replication.factor=1",
                "share.coordinator.state.topic.min.isr=1",
                "group.initial.rebalance.delay.ms=0",
                "") );
    }

    /** Formats a new log dir under {@code dir} and starts the broker; waits until it answers. */
    static KafkaBroker start(Path dir) throws Exception {
        return start(dir, null);
    }

    /**
     * As {@link #start(Path)}, with an SSL listener too ({@link #sslBootstrap}) whose key and
     * certificate are in the PEM file {@code pemKeystore}.
     */
    static KafkaBroker start(Path dir, Path pemKeystore) throws Exception {
        KafkaBroker b = new KafkaBroker(dir, pemKeystore);
        try {
            Process format = b.java("kafka.tools.StorageTool", "format", "-t", Uuid.randomUuid().toString(), "-c",
                    b.config.toString()).redirectOutput(dir.resolve("format.log").toFile())
                    .redirectErrorStream(true).start();
            if (!format.waitFor(120, TimeUnit.SECONDS)) {
                format.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
                throw new IllegalStateException("kafka storage format did not finish");
            }
            if (format.exitValue() != 0) {
                throw new IllegalStateException("kafka storage format failed:\n" + Files.readString(
                        dir.resolve("format.log")));
            }
            b.start();
            return b;
        } catch (Exception | Error e) {
            b.close();
            throw e;
        }
    }

    private ProcessBuilder java(String main, String... args) {
        List<String> cmd = new ArrayList<>(List.of(JAVA, "-Xmx512m", "-Xss1m",
                "-Dlogback.configurationFile=" + dir.resolve("logback.xml"), "-cp",
                System.getProperty("java.class.path"), main));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd);
        pb.environment().keySet().removeIf(k -> k.startsWith("BTF_AGENT_") || k.equals("JAVA_TOOL_OPTIONS"));
        return pb;
    }

    /** Starts the broker on its ports and data (again, after {@link #kill}); waits until it answers. */
    void start() throws Exception {
        if (process != null && process.isAlive()) {
            throw new IllegalStateException("broker already running");
        }
        Path log = dir.resolve("broker-" + (++starts) + ".log");
        process = java("kafka.Kafka", config.toString()).redirectOutput(log.toFile()).redirectErrorStream(true)
                .start();
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        Exception last = null;
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IllegalStateException("broker exited " + process.exitValue() + ":\n" + Files.readString(log));
            }
            try (Admin admin = admin()) {
                admin.describeCluster().nodes().get(5, TimeUnit.SECONDS);
                admin.listTopics().names().get(5, TimeUnit.SECONDS);
                return;
            } catch (Exception e) {
                last = e;
                Thread.sleep(200);
            }
        }
        throw new IllegalStateException("broker did not answer within 120 s: " + last + "\n" + Files.readString(log));
    }

    /** Kills the broker (SIGKILL, by pid) and waits until it is gone and its port is closed. */
    void kill() throws Exception {
        if (process != null) {
            process.destroyForcibly();
            if (!process.waitFor(30, TimeUnit.SECONDS)) {
                throw new IllegalStateException("broker pid " + process.pid() + " did not die");
            }
        }
        while (accepting(port)) {
            Thread.sleep(50);
        }
    }

    long pid() {
        return process.pid();
    }

    String bootstrap() {
        return "127.0.0.1:" + port;
    }

    /** The SSL listener's address (a broker started with a keystore). */
    String sslBootstrap() {
        if (sslPort < 0) {
            throw new IllegalStateException("this broker has no SSL listener");
        }
        return "127.0.0.1:" + sslPort;
    }

    Admin admin() {
        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrap());
        p.put("request.timeout.ms", "5000");
        p.put("default.api.timeout.ms", "10000");
        return Admin.create(p);
    }

    void createTopic(String name, int partitions) throws Exception {
        try (Admin admin = admin()) {
            admin.createTopics(List.of(new NewTopic(name, partitions, (short) 1))).all().get(60, TimeUnit.SECONDS);
        }
    }

    /**
     * Every record of {@code topic} from the start: waits until there are {@code expected}, then
     * one more poll for any extra. Sorted by partition, then offset.
     */
    List<ConsumerRecord<byte[], byte[]>> consume(String topic, int expected, long timeoutSeconds) {
        Properties p = new Properties();
        p.put("bootstrap.servers", bootstrap());
        p.put("enable.auto.commit", "false");
        p.put("isolation.level", "read_uncommitted");
        List<ConsumerRecord<byte[], byte[]>> out = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(p, new ByteArrayDeserializer(),
                new ByteArrayDeserializer())) {
            List<TopicPartition> parts = c.partitionsFor(topic, Duration.ofSeconds(30)).stream()
                    .map(i -> new TopicPartition(topic, i.partition())).toList();
            c.assign(parts);
            c.seekToBeginning(parts);
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(timeoutSeconds);
            while (out.size() < expected && System.nanoTime() < deadline) {
                c.poll(Duration.ofMillis(200)).forEach(out::add);
            }
            c.poll(Duration.ofMillis(500)).forEach(out::add);
        }
        out.sort(Comparator.<ConsumerRecord<byte[], byte[]>>comparingInt(ConsumerRecord::partition)
                .thenComparingLong(ConsumerRecord::offset));
        return out;
    }

    @Override
    public void close() throws IOException {
        try {
            if (process != null && process.isAlive()) {
                process.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            if (Files.exists(dir)) {
                try (Stream<Path> s = Files.walk(dir)) {
                    s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
                }
            }
        }
    }

    static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0, 1, java.net.InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        }
    }

    private static boolean accepting(int port) {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress("127.0.0.1", port), 200);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    /** The broker's log so far, for failure messages. */
    String log() throws IOException {
        Path log = dir.resolve("broker-" + starts + ".log");
        return Files.exists(log) ? Files.readString(log) : "";
    }
}
