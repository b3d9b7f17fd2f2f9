package io.btfagent.sink;

import io.btfagent.event.CaptureEvent;

/**
 * Where captured events go. Each sink is driven by one thread of its own (see
 * {@link Dispatcher}), so an implementation need not be thread-safe. Events are immutable and
 * shared between sinks; a sink must not modify {@link CaptureEvent#data()}.
 */
public interface Sink extends AutoCloseable {
    /** Takes one event. Throwing counts a failure for this sink; other sinks are unaffected. */
    void accept(CaptureEvent event) throws Exception;

    /** Makes accepted events durable/visible; called when the sink's queue runs empty. */
    default void flush() throws Exception {
    }

    @Override
    default void close() throws Exception {
    }
}
