package io.btfagent.sink;

import io.btfagent.event.CaptureEvent;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import java.util.function.UnaryOperator;

/**
 * Fans events out to the sinks. Each sink has its own bounded queue and thread: a slow,
 * blocked or failing sink drops (and counts) its own events and never stalls the ring-buffer
 * reader or another sink. {@link #publish} never blocks.
 *
 * <p>For every sink, each event published ends in exactly one of: delivered, dropped because
 * its queue was full, failed (the sink threw), or dropped at exit (still queued, or not yet
 * confirmed, when the exit deadline passed); each counted in events and in captured bytes.
 */
public final class Dispatcher implements AutoCloseable {

    /** Events and the captured bytes they carried. */
    public record Count(long events, long bytes) {
        public static final Count ZERO = new Count(0, 0);

        Count plus(Count o) {
            return new Count(events + o.events, bytes + o.bytes);
        }

        Count minus(Count o) {
            return new Count(events - o.events, bytes - o.bytes);
        }

        @Override
        public String toString() {
            return events + " events (" + bytes + " bytes)";
        }
    }

    /**
     * Per-sink totals, for the periodic and final reports.
     *
     * @param queueFull dropped because the sink's queue was full (in events or in bytes)
     * @param failed the sink threw on them ({@code accept} or the {@code flush} after them)
     * @param exit still queued or unconfirmed when the exit deadline passed
     * @param own the sink's own counters ({@link Sink#counters()})
     */
    public record SinkStats(String name, Count delivered, Count queueFull, Count failed, Count exit,
            Map<String, Long> own) {

        /** Events dropped for any reason but failure (queue full, exit). */
        public long dropped() {
            return queueFull.events + exit.events;
        }

        /** Everything this sink was offered: delivered + dropped + failed. */
        public Count offered() {
            return delivered.plus(queueFull).plus(failed).plus(exit);
        }
    }

    /** Queued by close() to wake a worker waiting on an empty queue; never reaches a sink. */
    private static final CaptureEvent STOP =
            new CaptureEvent(0, 0, 0, "", "", "", "", "", "", 0, null, null, null, 0, 0, 0, false, new byte[0]);

    /** Most events handed to a sink between two flushes. */
    static final int MAX_BATCH = 512;
    /**
     * Captured bytes after which a batch is closed and flushed: a file sink holds at most about
     * this much (as text) before writing it, so little is lost if the JVM dies.
     */
    static final int MAX_BATCH_BYTES = 64 * 1024;

    /** Bytes an event is counted for in a queue's budget besides its data. */
    static final int EVENT_OVERHEAD = 256;

    private final List<Worker> workers = new ArrayList<>();
    private final UnaryOperator<CaptureEvent> before;
    private final AtomicLong published = new AtomicLong();
    private final AtomicLong publishedBytes = new AtomicLong();

    /** A dispatcher whose queues are bounded by count only. */
    public Dispatcher(Map<String, Sink> sinks, int queueCapacity, Consumer<String> problems) {
        this(sinks, queueCapacity, Long.MAX_VALUE, problems);
    }

    public Dispatcher(Map<String, Sink> sinks, int queueCapacity, long queueBytes, Consumer<String> problems) {
        this(sinks, queueCapacity, queueBytes, problems, UnaryOperator.identity());
    }

    /**
     * @param sinks the sinks by name, in config order
     * @param queueCapacity most events waiting for one sink
     * @param queueBytes most captured bytes (plus {@link #EVENT_OVERHEAD} each) waiting for one
     *     sink, so a stalled sink cannot hold much of the application's heap
     * @param problems receives one line the first time a sink fails (and every 10,000th time)
     * @param before applied to every event once, before any sink sees it (redaction)
     */
    public Dispatcher(Map<String, Sink> sinks, int queueCapacity, long queueBytes, Consumer<String> problems,
            UnaryOperator<CaptureEvent> before) {
        this.before = before;
        for (Map.Entry<String, Sink> e : sinks.entrySet()) {
            Worker w = new Worker(e.getKey(), e.getValue(), queueCapacity, queueBytes, problems);
            workers.add(w);
            w.thread.start();
        }
    }

    /** Offers the event to every sink's queue; a full queue counts a drop for that sink. */
    public void publish(CaptureEvent event) {
        CaptureEvent e = before.apply(event);
        long size = weight(e);
        published.incrementAndGet();
        publishedBytes.addAndGet(e.data().length);
        for (Worker w : workers) {
            if (w.queuedBytes.addAndGet(size) > w.byteBudget || !w.queue.offer(e)) {
                w.queuedBytes.addAndGet(-size);
                w.queueFull.add(e);
            }
        }
    }

    private static long weight(CaptureEvent event) {
        return event.data().length + (long) EVENT_OVERHEAD;
    }

    /** Events (and their captured bytes) published to the sinks so far. */
    public Count published() {
        return new Count(published.get(), publishedBytes.get());
    }

    public List<SinkStats> stats() {
        List<SinkStats> out = new ArrayList<>();
        for (Worker w : workers) {
            out.add(w.stats());
        }
        return out;
    }

    /**
     * One line per sink that dropped or failed events since the previous call, for the
     * periodic warning while it happens.
     */
    public List<String> dropReport() {
        List<String> lines = new ArrayList<>();
        for (Worker w : workers) {
            SinkStats now = w.stats();
            SinkStats then = w.lastReported;
            w.lastReported = now;
            Count full = now.queueFull().minus(then.queueFull());
            Count failed = now.failed().minus(then.failed());
            if (full.events() > 0) {
                lines.add("sink " + w.name + " dropped " + full + " since the last report because its queue was full"
                        + " (total " + now.queueFull() + "); it cannot keep up: raise sink.queue.capacity or"
                        + " sink.queue.bytes, or use a faster sink");
            }
            if (failed.events() > 0) {
                lines.add("sink " + w.name + " failed on " + failed + " since the last report (total " + now.failed()
                        + "); last error: " + w.lastError);
            }
        }
        return lines;
    }

    /**
     * Lets each sink take what is queued, flush and close, waiting at most {@code deadlineMs}
     * in all; events still queued or unconfirmed after that are counted as dropped at exit.
     */
    public void close(long deadlineMs) {
        long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(deadlineMs);
        for (Worker w : workers) {
            w.closing = true;
            w.queue.offer(STOP); // wakes an idle worker now; a busy one sees closing when it runs dry
        }
        for (Worker w : workers) {
            long left = TimeUnit.NANOSECONDS.toMillis(end - System.nanoTime());
            try {
                w.thread.join(Math.max(1, left));
            } catch (InterruptedException ie) {
                Thread.currentThread().interrupt();
            }
            w.abandonIfRunning();
        }
    }

    @Override
    public void close() {
        close(500);
    }

    /** A thread-safe event and byte counter. */
    private static final class Counter {
        private final AtomicLong events = new AtomicLong();
        private final AtomicLong bytes = new AtomicLong();

        void add(CaptureEvent e) {
            add(1, e.data().length);
        }

        void add(long n, long b) {
            events.addAndGet(n);
            bytes.addAndGet(b);
        }

        Count get() {
            return new Count(events.get(), bytes.get());
        }
    }

    private static final class Worker implements Runnable {
        final String name;
        final Sink sink;
        final BlockingQueue<CaptureEvent> queue;
        final AtomicLong queuedBytes = new AtomicLong();
        final long byteBudget;
        final Consumer<String> problems;
        final Counter delivered = new Counter();
        final Counter queueFull = new Counter();
        final Counter failed = new Counter();
        final Counter exit = new Counter();
        final Thread thread;
        volatile boolean closing;
        volatile String lastError = "none";
        SinkStats lastReported;
        /** Guards the settling of the current batch against {@link #abandonIfRunning}. */
        private final Object lock = new Object();
        private boolean abandoned;
        /** Events of the current batch not yet counted anywhere. */
        private long unsettled;
        private long unsettledBytes;

        Worker(String name, Sink sink, int capacity, long byteBudget, Consumer<String> problems) {
            this.name = name;
            this.sink = sink;
            this.queue = new ArrayBlockingQueue<>(capacity);
            this.byteBudget = byteBudget;
            this.problems = problems;
            this.thread = new Thread(this, "btf-agent-sink-" + name);
            this.thread.setDaemon(true);
            this.lastReported = new SinkStats(name, Count.ZERO, Count.ZERO, Count.ZERO, Count.ZERO, Map.of());
        }

        SinkStats stats() {
            Map<String, Long> own;
            try {
                own = Map.copyOf(sink.counters());
            } catch (RuntimeException e) {
                own = Map.of();
            }
            return new SinkStats(name, delivered.get(), queueFull.get(), failed.get(), exit.get(), own);
        }

        @Override
        public void run() {
            List<CaptureEvent> batch = new ArrayList<>(MAX_BATCH);
            try {
                while (true) {
                    CaptureEvent first = queue.poll(50, TimeUnit.MILLISECONDS);
                    if (first == null || first == STOP) {
                        if (closing && queue.isEmpty()) {
                            break;
                        }
                        continue;
                    }
                    batch.clear();
                    batch.add(first);
                    long batchBytes = first.data().length;
                    while (batch.size() < MAX_BATCH && batchBytes < MAX_BATCH_BYTES) {
                        CaptureEvent next = queue.poll();
                        if (next == null) {
                            break;
                        }
                        if (next != STOP) {
                            batch.add(next);
                            batchBytes += next.data().length;
                        }
                    }
                    if (!process(batch)) {
                        return;
                    }
                }
            } catch (InterruptedException ie) {
                // close() gave up waiting; what is left is counted there
            } finally {
                call(sink::close);
            }
        }

        /** Hands one batch to the sink and settles every event of it; false once abandoned. */
        private boolean process(List<CaptureEvent> batch) {
            long bytes = 0;
            for (CaptureEvent e : batch) {
                queuedBytes.addAndGet(-weight(e));
                bytes += e.data().length;
            }
            synchronized (lock) {
                if (abandoned) { // taken from the queue just as close() gave up: dropped at exit
                    exit.add(batch.size(), bytes);
                    return false;
                }
                unsettled = batch.size();
                unsettledBytes = bytes;
            }
            long acceptedEvents = 0;
            long acceptedBytes = 0;
            for (CaptureEvent e : batch) {
                if (call(() -> sink.accept(e))) {
                    acceptedEvents++;
                    acceptedBytes += e.data().length;
                } else {
                    synchronized (lock) {
                        if (abandoned) {
                            return false;
                        }
                        failed.add(e);
                        unsettled--;
                        unsettledBytes -= e.data().length;
                    }
                }
            }
            boolean flushed = call(sink::flush);
            synchronized (lock) {
                if (abandoned) {
                    return false;
                }
                if (!flushed && lastThrown instanceof PartialFailure p && p.events() >= 0 && p.bytes() >= 0
                        && p.events() <= acceptedEvents && p.bytes() <= acceptedBytes) {
                    failed.add(p.events(), p.bytes());
                    delivered.add(acceptedEvents - p.events(), acceptedBytes - p.bytes());
                } else {
                    (flushed ? delivered : failed).add(acceptedEvents, acceptedBytes);
                }
                unsettled = 0;
                unsettledBytes = 0;
            }
            return true;
        }

        /** After the exit deadline: whatever is queued or unconfirmed counts as dropped at exit. */
        void abandonIfRunning() {
            synchronized (lock) {
                if (thread.isAlive()) {
                    abandoned = true;
                    exit.add(unsettled, unsettledBytes);
                    unsettled = 0;
                    unsettledBytes = 0;
                    thread.interrupt();
                }
                List<CaptureEvent> leftover = new ArrayList<>();
                queue.drainTo(leftover);
                for (CaptureEvent e : leftover) {
                    if (e != STOP) {
                        exit.add(e);
                    }
                }
            }
        }

        private interface Action {
            void run() throws Exception;
        }

        private long errors;
        /** What the last failing {@link #call} threw. */
        private Throwable lastThrown;

        private boolean call(Action a) {
            try {
                a.run();
                return true;
            } catch (Throwable t) {
                lastThrown = t;
                errors++;
                lastError = String.valueOf(t);
                if (errors == 1 || errors % 10_000 == 0) {
                    problems.accept("sink " + name + " failed (" + errors + " failures so far): " + t
                            + "; its events are counted as failed, other sinks continue");
                }
                return false;
            }
        }
    }
}
