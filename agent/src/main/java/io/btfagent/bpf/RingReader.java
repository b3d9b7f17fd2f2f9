package io.btfagent.bpf;

/**
 * The thread {@code btf-agent-ring}: drains a ring into its handler until stopped, then once
 * more, so that everything written before the probes were detached is read.
 */
public final class RingReader {
    private final RingBufferPoller poller;
    private final Thread thread;

    private RingReader(RingBufferPoller poller) {
        this.poller = poller;
        this.thread = new Thread(poller::run, "btf-agent-ring");
        this.thread.setDaemon(true);
    }

    /** Starts reading {@code ring} into {@code handler}, on the ring thread. */
    public static RingReader start(RingBuffer ring, RingBuffer.RecordAtHandler handler) throws BpfException {
        RingBufferPoller poller = new RingBufferPoller();
        poller.addInPlace(ring, handler);
        RingReader reader = new RingReader(poller);
        reader.thread.start();
        return reader;
    }

    /** Asks the thread to stop after one last drain, and waits for it up to {@code ms}. */
    public void stop(long ms) throws InterruptedException {
        poller.stop();
        thread.join(ms);
    }

    /** Waits up to {@code ms} for the thread to end. */
    public void join(long ms) throws InterruptedException {
        thread.join(ms);
    }

    public boolean running() {
        return thread.isAlive();
    }

    /** Frees the reader's descriptors; only once its thread has ended. */
    public void close() {
        poller.close();
    }
}
