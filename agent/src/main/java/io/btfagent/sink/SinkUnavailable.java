package io.btfagent.sink;

/**
 * Thrown by {@link Sink#flush} when the sink cannot write now (a full disk, an I/O error, a
 * broker without metadata) but may later: it keeps the events it could not write and tries
 * them again at its next {@code flush}. Of everything it had (the events accepted since the
 * previous flush, plus those it held before), {@link #heldEvents()} are still held,
 * {@link #failedEvents()} are given up (held longer than {@link Sink#maxHoldMillis()}), and the
 * rest were delivered.
 *
 * <p>While a sink holds events the dispatcher hands it nothing new: it calls {@code flush}
 * again after a growing pause (backoff), the sink's queue keeps the events that arrive
 * meanwhile (those that do not fit count as dropped, queue full), and the events queued longer
 * than {@link Sink#maxHoldMillis()} fail. A held event never reaches the sink twice.
 */
public final class SinkUnavailable extends Exception {
    private static final long serialVersionUID = 1L;

    private final long heldEvents;
    private final long heldBytes;
    private final long failedEvents;
    private final long failedBytes;

    /**
     * @param why one line: what cannot be written and why, e.g. {@code cannot write
     *     /var/log/a.jsonl: No space left on device}
     */
    public SinkUnavailable(long heldEvents, long heldBytes, long failedEvents, long failedBytes, String why) {
        super(why, null, false, false);
        this.heldEvents = heldEvents;
        this.heldBytes = heldBytes;
        this.failedEvents = failedEvents;
        this.failedBytes = failedBytes;
    }

    /** Events the sink still holds and will try again at its next flush. */
    public long heldEvents() {
        return heldEvents;
    }

    /** Their captured bytes. */
    public long heldBytes() {
        return heldBytes;
    }

    /** Held events given up because they were held too long. */
    public long failedEvents() {
        return failedEvents;
    }

    public long failedBytes() {
        return failedBytes;
    }
}
