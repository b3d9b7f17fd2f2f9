package io.btfagent.sink;

import io.btfagent.event.CaptureEvent;
import io.btfagent.event.EventView;
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
 * naming how many of them failed (the others count as delivered), or a {@link SinkUnavailable}:
 * the sink cannot write now and holds what it could not write, which the dispatcher has it try
 * again (see there). {@link #close} is called once, after the last flush, at exit (the agent
 * waits a bounded time for it).
 *
 * <p>The agent calls {@link #accept(EventView)}: a view of the event that is valid only during
 * the call (the agent reuses it and the buffer its data lies in for later events, so its event
 * path allocates nothing per event). Its default gives {@link #accept(CaptureEvent)} an
 * immutable copy, which a sink may keep; a sink that writes each event out at once (as the
 * jsonl sink does) overrides it to save the copy. A sink must not modify an event's data.
 * Credentials have already been masked (see the {@code redact} setting) before any sink sees
 * an event.
 */
public interface Sink extends AutoCloseable {
    /** Takes one event. Throwing counts a failure of this event for this sink. */
    void accept(CaptureEvent event) throws Exception;

    /**
     * Takes one event as a view valid only during this call; the default passes an immutable
     * copy to {@link #accept(CaptureEvent)}. Throwing counts a failure of this event for this
     * sink.
     */
    default void accept(EventView event) throws Exception {
        accept(event.toEvent());
    }

    /** Makes accepted events durable or visible; called after each batch. */
    default void flush() throws Exception {
    }

    /** How long events wait for a sink that holds them (see {@link SinkUnavailable}), unless it says otherwise. */
    long DEFAULT_MAX_HOLD_MS = 300_000;

    /**
     * Longest an event may wait, in the sink's queue or held by the sink, while the sink cannot
     * write (see {@link SinkUnavailable}); after that it fails. Called once, at start.
     */
    default long maxHoldMillis() {
        return DEFAULT_MAX_HOLD_MS;
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
