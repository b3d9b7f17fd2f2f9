package io.btfagent.sink;

import io.btfagent.event.CaptureEvent;
import java.util.Map;

/**
 * Where captured events go.
 *
 * <p>Each sink is driven by one thread of its own behind its own bounded queue (see
 * {@link Dispatcher}), so an implementation need not be thread-safe, and a sink that is slow,
 * blocks or throws only ever loses its own events: those are counted (per sink, per reason, in
 * events and bytes) and never stall the ring-buffer reader or another sink.
 *
 * <p>The thread calls {@link #accept} for a batch of events (at most 512, or about 64 KiB of
 * captured bytes), then
 * {@link #flush}. An event counts as delivered when the flush after it returns; when
 * {@code accept} throws, that event counts as failed; when {@code flush} throws, every event
 * accepted since the previous flush counts as failed, unless it is a {@link PartialFailure}
 * naming how many of them failed (the others count as delivered). {@link #close} is called once, after the
 * last flush, at exit (the agent waits a bounded time for it).
 *
 * <p>Events are immutable and shared between sinks: a sink must not modify
 * {@link CaptureEvent#data()}. Credentials have already been masked (see the {@code redact}
 * setting) before any sink sees an event.
 */
public interface Sink extends AutoCloseable {
    /** Takes one event. Throwing counts a failure of this event for this sink. */
    void accept(CaptureEvent event) throws Exception;

    /** Makes accepted events durable or visible; called after each batch. */
    default void flush() throws Exception {
    }

    @Override
    default void close() throws Exception {
    }

    /**
     * Counters of the sink's own (e.g. {@code rotations}, {@code damaged lines}), reported with
     * the agent's per-sink counters. Called from other threads: return a fresh map of values
     * read from thread-safe fields.
     */
    default Map<String, Long> counters() {
        return Map.of();
    }
}
