package io.btfagent.sink.kafka;

import io.btfagent.event.CaptureEvent;
import io.btfagent.event.EventView;
import io.btfagent.sink.EventJson;
import io.btfagent.sink.PartialFailure;
import io.btfagent.sink.Sink;
import io.btfagent.sink.SinkContext;
import io.btfagent.sink.SinkProvider;
import io.btfagent.sink.SinkSetting;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.serialization.ByteArraySerializer;

/**
 * Sends each event as one Kafka record to {@code sink.kafka.topic}: the value is the event's
 * JSON object (the {@code jsonl} sink's line, without its newline), the key its {@code conn}
 * (decimal), so that one connection's events stay in order in one partition; an event without a
 * {@code conn} is keyed by its TLS object ({@code ssl-0x...}).
 *
 * <p>A batch from the dispatcher is sent, then {@link #flush} waits until the producer has the
 * broker's answer for every record of it (at most {@code delivery.timeout.ms}): records the
 * broker did not take (unreachable past that time, refused) fail as a {@link PartialFailure},
 * the others count as delivered. While the broker is down the sink thread waits, its queue fills
 * and drops (counted); when the broker is back the producer reconnects by itself. The producer
 * is made on a thread of its own (its settings were checked at start), so making it never
 * delays the start of the capture.
 */
public final class KafkaSink implements Sink {
    /** Bounded wait for the producer's own threads at exit. */
    static final Duration CLOSE_WAIT = Duration.ofSeconds(1);

    /** Made on a thread of its own, so that it never delays the capture's start. */
    private final CompletableFuture<Producer<byte[], byte[]>> made = new CompletableFuture<>();
    private Producer<byte[], byte[]> producer;
    private final String topic;
    private final List<Future<RecordMetadata>> sent = new ArrayList<>();
    private final List<Integer> sentBytes = new ArrayList<>();
    private final EventJson json = new EventJson();
    private byte[] buffer = new byte[16 * 1024];
    private final EventView copy = new EventView();
    /** Set when a send of this batch timed out waiting for the broker: the rest fail at once. */
    private String noMetadata;
    /** Events the broker did not take, by the exception's simple name. */
    private final Map<String, Long> failedBy = new TreeMap<>();

    KafkaSink(ProducerSettings settings) {
        this.topic = settings.topic();
        Thread t = new Thread(() -> {
            Producer<byte[], byte[]> p;
            try {
                p = new KafkaProducer<>(settings.producerProperties(), new ByteArraySerializer(),
                        new ByteArraySerializer());
            } catch (RuntimeException | LinkageError e) {
                made.completeExceptionally(e);
                return;
            }
            made.complete(p);
            try {
                p.partitionsFor(topic); // the topic's metadata, so that the first event need not wait for it
            } catch (RuntimeException e) {
                // broker unreachable or topic missing: the first send says so, counted
            }
        }, "btf-agent-kafka-start");
        t.setDaemon(true);
        // Kafka loads the classes its config names (its own defaults too) through the thread's
        // context loader, and its threads inherit it: the agent's own loader, so the
        // application's kafka-clients (any version) is never mixed in.
        t.setContextClassLoader(KafkaSink.class.getClassLoader());
        t.start();
    }

    private Producer<byte[], byte[]> producer() throws InterruptedException {
        if (producer == null) {
            try {
                producer = made.get();
            } catch (ExecutionException e) {
                throw new IllegalStateException("the Kafka producer could not be made: "
                        + ProducerSettings.oneLine(e.getCause()), e.getCause());
            }
        }
        return producer;
    }

    /** Runs {@code action} with the agent's loader as the thread's context loader (see above). */
    static <T> T inAgentLoader(java.util.function.Supplier<T> action) {
        Thread t = Thread.currentThread();
        ClassLoader before = t.getContextClassLoader();
        t.setContextClassLoader(KafkaSink.class.getClassLoader());
        try {
            return action.get();
        } finally {
            t.setContextClassLoader(before);
        }
    }

    /** The record key of an event: its {@code conn}, else its TLS object. */
    static byte[] key(EventView e) {
        String k = e.conn() != 0 ? Long.toString(e.conn()) : "ssl-0x" + Long.toHexString(e.ssl());
        return k.getBytes(StandardCharsets.US_ASCII);
    }

    /**
     * The record value: the event's JSON object as the {@code jsonl} sink writes it (its
     * encoder, {@link EventJson}), without the newline; an array of its own, which the producer
     * keeps until the broker has it.
     */
    byte[] value(EventView e) {
        int max = EventJson.maxLength(e);
        if (buffer.length < max) {
            buffer = new byte[Math.max(max, 2 * buffer.length)];
        }
        return Arrays.copyOf(buffer, json.write(e, buffer, 0));
    }

    @Override
    public void accept(CaptureEvent event) throws InterruptedException, UnsentEvent {
        accept(copy.of(event));
    }

    @Override
    public void accept(EventView event) throws InterruptedException, UnsentEvent {
        if (noMetadata != null) {
            synchronized (failedBy) {
                failedBy.merge("unsent", 1L, Long::sum);
            }
            throw new UnsentEvent(noMetadata);
        }
        Future<RecordMetadata> f = producer().send(new ProducerRecord<>(topic, null, event.epochNanos() / 1_000_000,
                key(event), value(event)));
        sent.add(f);
        sentBytes.add(event.dataLength());
        if (f.isDone()) {
            Throwable why = failure(f);
            if (why instanceof org.apache.kafka.common.errors.TimeoutException) {
                // the send waited max.block.ms for the broker: the rest of this batch is not
                // sent, so that a broker that is down holds the sink that long once per batch
                noMetadata = why.toString();
            }
        }
    }

    /** An event not sent because the broker did not answer for an earlier one of its batch. */
    static final class UnsentEvent extends Exception {
        private static final long serialVersionUID = 1L;

        UnsentEvent(String why) {
            super("not sent, the broker did not answer for an earlier event of its batch: " + why, null, false, false);
        }
    }

    @Override
    public void flush() throws PartialFailure {
        try {
            if (sent.isEmpty()) {
                return; // every accept threw (and counted)
            }
            producer.flush();
            long events = 0;
            long bytes = 0;
            String first = null;
            for (int i = 0; i < sent.size(); i++) {
                Throwable why = failure(sent.get(i));
                if (why != null) {
                    events++;
                    bytes += sentBytes.get(i);
                    String reason = why.getClass().getSimpleName();
                    synchronized (failedBy) {
                        failedBy.merge(reason, 1L, Long::sum);
                    }
                    if (first == null) {
                        first = why.toString();
                    }
                }
            }
            if (events > 0) {
                throw new PartialFailure(events, bytes, first);
            }
        } finally {
            sent.clear();
            sentBytes.clear();
            noMetadata = null;
        }
    }

    /** Why a sent record was not delivered, or null; the future is done after a flush. */
    private static Throwable failure(Future<RecordMetadata> f) {
        try {
            f.get();
            return null;
        } catch (ExecutionException e) {
            return e.getCause() == null ? e : e.getCause();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            return e;
        }
    }

    @Override
    public void close() {
        // at exit the dispatcher may have interrupted this thread: the producer still gets its
        // bounded close
        if (producer == null) {
            made.thenAccept(p -> p.close(CLOSE_WAIT)); // now, or once made
            return;
        }
        boolean interrupted = Thread.interrupted();
        try {
            producer.close(CLOSE_WAIT);
        } finally {
            if (interrupted) {
                Thread.currentThread().interrupt();
            }
        }
    }

    @Override
    public Map<String, Long> counters() {
        Map<String, Long> m = new TreeMap<>();
        synchronized (failedBy) {
            failedBy.forEach((k, v) -> m.put("failed " + k, v));
        }
        return m;
    }

    /** {@code sinks=kafka}. */
    public static final class Provider implements SinkProvider {
        @Override
        public String name() {
            return "kafka";
        }

        @Override
        public List<SinkSetting> settings() {
            return ProducerSettings.SETTINGS;
        }

        @Override
        public boolean acceptsUndeclaredKeys() {
            return true; // the producer's own settings, checked by ProducerSettings
        }

        @Override
        public Sink create(SinkContext context) {
            // every setting is checked now, by Kafka's own rules
            try {
                return inAgentLoader(() -> {
                    ProducerSettings s = ProducerSettings.of(context);
                    s.check();
                    return new KafkaSink(s);
                });
            } catch (org.apache.kafka.common.KafkaException e) {
                throw new IllegalArgumentException(ProducerSettings.oneLine(e), e);
            } catch (LinkageError e) {
                throw new IllegalStateException("kafka-clients cannot run here: " + ProducerSettings.oneLine(e), e);
            }
        }
    }
}
