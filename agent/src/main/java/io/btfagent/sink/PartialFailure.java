package io.btfagent.sink;

/**
 * Thrown by {@link Sink#flush} when only some of the events accepted since the previous flush
 * failed (e.g. a Kafka broker refused or timed out part of a batch): those are counted as failed,
 * the rest as delivered. Any other exception from {@code flush} fails every accepted event.
 */
public final class PartialFailure extends Exception {
    private static final long serialVersionUID = 1L;

    private final long events;
    private final long bytes;

    /**
     * @param events how many of the accepted events were not delivered
     * @param bytes their captured bytes ({@code data().length} summed)
     * @param why one line: the cause, e.g. the first error's text
     */
    public PartialFailure(long events, long bytes, String why) {
        super(events + " event" + (events == 1 ? "" : "s") + " (" + bytes + " bytes) not delivered: " + why, null,
                false, false);
        this.events = events;
        this.bytes = bytes;
    }

    public long events() {
        return events;
    }

    public long bytes() {
        return bytes;
    }
}
