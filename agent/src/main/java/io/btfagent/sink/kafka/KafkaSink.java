package io.btfagent.sink.kafka;

import io.btfagent.event.CaptureEvent;
import io.btfagent.event.EventView;
import io.btfagent.sink.EventJson;
import io.btfagent.sink.PartialFailure;
import io.btfagent.sink.Sink;
import io.btfagent.sink.SinkContext;
import io.btfagent.sink.SinkProvider;
import io.btfagent.sink.SinkSetting;
import io.btfagent.sink.SinkUnavailable;
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
import java.util.concurrent.TimeUnit;
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
 * <p>A batch from the dispatcher is sent, then {@link #flush} waits for the broker's answers (at
 * most {@code request.timeout.ms}). While the broker cannot be reached (a restart, a leader
 * election, no metadata) the sink holds what it could not deliver yet and says so with a
 * {@link SinkUnavailable}: records the producer still retries, and records not sent because the
 * send waited {@code max.block.ms} for metadata (the rest of that batch is not sent, in order);
 * the dispatcher then keeps the sink's queue and has it try again. A record fails only when it
 * waited longer than {@code delivery.timeout.ms} (the producer expires it, or it was held that
 * long unsent) or when the broker refuses it. The producer is made on a thread of its own (its
 * settings were checked at start), so making it never delays the start of the capture.
 */
public final class KafkaSink implements Sink {
    /** Bounded wait for the producer's own threads at exit. */
    static final Duration CLOSE_WAIT = Duration.ofSeconds(1);

    /** Made on a thread of its own, so that it never delays the capture's start. */
    private final CompletableFuture<Producer<byte[], byte[]>> made = new CompletableFuture<>();
    private Producer<byte[], byte[]> producer;
    private final String topic;
    /** Records taken and not yet settled, in the order taken (a connection's stay in order). */
    private final List<Pending> pending = new ArrayList<>();
    private final EventJson json = new EventJson();
    private byte[] buffer = new byte[16 * 1024];
    private final EventView copy = new EventView();
    /** Set when a send timed out waiting for metadata: later records wait unsent until the next try. */
    private String noMetadata;
    /** Events the broker did not take, by the exception's simple name. */
    private final Map<String, Long> failedBy = new TreeMap<>();
    /** Longest a record may wait to be delivered ({@code delivery.timeout.ms}). */
    private final long deliveryTimeoutMs;
    /** Longest one flush waits for the broker's answers ({@code request.timeout.ms}, at most the above). */
    private final long answerWaitMs;
    private final String bootstrap;

    /** A record taken by the sink: unsent (future null) or sent. */
    private static final class Pending {
        final ProducerRecord<byte[], byte[]> record;
        final int bytes;
        final long takenAt;
        Future<RecordMetadata> future;

        Pending(ProducerRecord<byte[], byte[]> record, int bytes, long takenAt) {
            this.record = record;
            this.bytes = bytes;
            this.takenAt = takenAt;
        }
    }

    KafkaSink(ProducerSettings settings) {
        this.topic = settings.topic();
        this.deliveryTimeoutMs = millis(settings, "delivery.timeout.ms", 120_000);
        this.answerWaitMs = Math.min(deliveryTimeoutMs, millis(settings, "request.timeout.ms", 30_000));
        this.bootstrap = String.valueOf(settings.producerProperties().get("bootstrap.servers"));
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

    /** A producer setting in milliseconds (checked at start), or Kafka's default. */
    private static long millis(ProducerSettings settings, String key, long kafkaDefault) {
        Object v = settings.producerProperties().get(key);
        try {
            return v == null ? kafkaDefault : Long.parseLong(v.toString().trim());
        } catch (NumberFormatException e) {
            return kafkaDefault;
        }
    }

    @Override
    public long maxHoldMillis() {
        return deliveryTimeoutMs;
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
    public void accept(CaptureEvent event) throws InterruptedException {
        accept(copy.of(event));
    }

    @Override
    public void accept(EventView event) throws InterruptedException {
        Pending p = new Pending(new ProducerRecord<>(topic, null, event.epochNanos() / 1_000_000, key(event),
                value(event)), event.dataLength(), System.nanoTime());
        pending.add(p);
        if (noMetadata == null) {
            send(p);
        }
    }

    /** Sends one record; a send that waited {@code max.block.ms} for metadata leaves it (and the rest) unsent. */
    private void send(Pending p) throws InterruptedException {
        Future<RecordMetadata> f = producer().send(p.record);
        if (f.isDone() && failure(f) instanceof org.apache.kafka.common.errors.TimeoutException why) {
            // no metadata (the broker unreachable): held unsent, in order; so that a broker
            // that is down holds the sink max.block.ms once per try, not once per record
            noMetadata = why.toString();
            return;
        }
        p.future = f;
    }

    /**
     * Sends what is held unsent, waits for the broker's answers (at most
     * {@code request.timeout.ms}) and settles: delivered, failed (refused, or waited longer than
     * {@code delivery.timeout.ms}), or still held ({@link SinkUnavailable}).
     */
    @Override
    public void flush() throws PartialFailure, SinkUnavailable, InterruptedException {
        if (pending.isEmpty()) {
            return;
        }
        if (noMetadata == null) { // a try after a pause: what is held unsent goes now, in order
            for (int i = 0; i < pending.size() && noMetadata == null; i++) {
                if (pending.get(i).future == null) {
                    send(pending.get(i));
                }
            }
        } // else a send of this batch just waited max.block.ms: the next try comes after a pause
        String heldWhy = noMetadata;
        noMetadata = null;
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(answerWaitMs);
        long failed = 0;
        long failedBytes = 0;
        long refused = 0;
        long held = 0;
        long heldBytes = 0;
        String first = null;
        long now = System.nanoTime();
        int kept = 0;
        for (int i = 0; i < pending.size(); i++) {
            Pending p = pending.get(i);
            Throwable why;
            if (p.future == null) {
                why = now - p.takenAt > TimeUnit.MILLISECONDS.toNanos(deliveryTimeoutMs) ? UNSENT_TOO_LONG : null;
                if (why == null) {
                    held++;
                    heldBytes += p.bytes;
                    pending.set(kept++, p);
                    continue;
                }
            } else {
                try {
                    p.future.get(Math.max(0, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
                    continue; // delivered
                } catch (java.util.concurrent.TimeoutException stillWaiting) {
                    // the producer still retries it (until delivery.timeout.ms)
                    held++;
                    heldBytes += p.bytes;
                    pending.set(kept++, p);
                    if (heldWhy == null) {
                        heldWhy = "no answer from the broker in " + answerWaitMs + " ms";
                    }
                    continue;
                } catch (ExecutionException e) {
                    why = e.getCause() == null ? e : e.getCause();
                }
            }
            failed++;
            failedBytes += p.bytes;
            if (!(why == UNSENT_TOO_LONG || why instanceof org.apache.kafka.common.errors.TimeoutException)) {
                refused++;
            }
            synchronized (failedBy) {
                failedBy.merge(why == UNSENT_TOO_LONG ? "unsent" : why.getClass().getSimpleName(), 1L, Long::sum);
            }
            if (first == null) {
                first = why.toString();
            }
        }
        pending.subList(kept, pending.size()).clear();
        if (held > 0 || (failed > 0 && refused == 0)) {
            // what waited too long for an unreachable broker is counted (and in the periodic loss
            // warning), not one failure line each time
            throw new SinkUnavailable(held, heldBytes, failed, failedBytes, "cannot deliver to the broker at "
                    + bootstrap + ": " + (heldWhy != null ? heldWhy : first));
        }
        if (failed > 0) {
            throw new PartialFailure(failed, failedBytes, first);
        }
    }

    /** A record held unsent (no metadata) longer than {@code delivery.timeout.ms}. */
    private static final Throwable UNSENT_TOO_LONG = new Exception("not sent: no metadata from the broker for longer"
            + " than delivery.timeout.ms", null, false, false) {
        private static final long serialVersionUID = 1L;
    };

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
