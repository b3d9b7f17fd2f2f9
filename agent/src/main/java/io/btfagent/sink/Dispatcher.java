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

/**
 * Fans events out to the sinks. Each sink has its own bounded queue and thread: a slow or
 * failing sink drops (and counts) its own events and never stalls the ring-buffer reader or
 * another sink. {@link #publish} never blocks.
 */
public final class Dispatcher implements AutoCloseable {

    /** Per-sink totals, for the periodic and final reports. */
    public record SinkStats(String name, long delivered, long dropped, long failed) {
    }

    /** Queued by close() to wake a worker waiting on an empty queue; never reaches a sink. */
    private static final CaptureEvent STOP =
            new CaptureEvent(0, 0, 0, "", "", "", "", "", "", 0, null, null, null, 0, 0, 0, false, new byte[0]);

    private final List<Worker> workers = new ArrayList<>();

    /** Bytes an event is counted for in a queue's budget besides its data. */
    static final int EVENT_OVERHEAD = 256;

    /** A dispatcher whose queues are bounded by count only. */
    public Dispatcher(Map<String, Sink> sinks, int queueCapacity, Consumer<String> problems) {
        this(sinks, queueCapacity, Long.MAX_VALUE, problems);
    }

    /**
     * @param sinks the sinks by name, in config order
     * @param queueCapacity most events waiting for one sink
     * @param queueBytes most captured bytes (plus {@link #EVENT_OVERHEAD} each) waiting for one
     *     sink, so a stalled sink cannot hold much of the application's heap
     * @param problems receives one line the first time a sink fails (and every 10,000th time)
     */
    public Dispatcher(Map<String, Sink> sinks, int queueCapacity, long queueBytes, Consumer<String> problems) {
        for (Map.Entry<String, Sink> e : sinks.entrySet()) {
            Worker w = new Worker(e.getKey(), e.getValue(), queueCapacity, queueBytes, problems);
            workers.add(w);
            w.thread.start();
        }
    }

    /** Offers the event to every sink's queue; a full queue counts a drop for that sink. */
    public void publish(CaptureEvent event) {
        long size = weight(event);
        for (Worker w : workers) {
            if (w.queuedBytes.addAndGet(size) > w.byteBudget || !w.queue.offer(event)) {
                w.queuedBytes.addAndGet(-size);
                w.dropped.incrementAndGet();
            }
        }
    }

    private static long weight(CaptureEvent event) {
        return event.data().length + (long) EVENT_OVERHEAD;
    }

    public List<SinkStats> stats() {
        List<SinkStats> out = new ArrayList<>();
        for (Worker w : workers) {
            out.add(new SinkStats(w.name, w.delivered.get(), w.dropped.get(), w.failed.get()));
        }
        return out;
    }

    /**
     * Lets each sink take what is queued, flush and close, waiting at most {@code deadlineMs}
     * in all; events still queued after that are counted as dropped.
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
            if (w.thread.isAlive()) {
                w.thread.interrupt();
            }
            List<CaptureEvent> leftover = new ArrayList<>();
            w.queue.drainTo(leftover);
            w.dropped.addAndGet(leftover.stream().filter(e -> e != STOP).count());
        }
    }

    @Override
    public void close() {
        close(500);
    }

    private static final class Worker implements Runnable {
        final String name;
        final Sink sink;
        final BlockingQueue<CaptureEvent> queue;
        final AtomicLong queuedBytes = new AtomicLong();
        final long byteBudget;
        final Consumer<String> problems;
        final AtomicLong delivered = new AtomicLong();
        final AtomicLong dropped = new AtomicLong();
        final AtomicLong failed = new AtomicLong();
        final Thread thread;
        volatile boolean closing;

        Worker(String name, Sink sink, int capacity, long byteBudget, Consumer<String> problems) {
            this.name = name;
            this.sink = sink;
            this.queue = new ArrayBlockingQueue<>(capacity);
            this.byteBudget = byteBudget;
            this.problems = problems;
            this.thread = new Thread(this, "btf-agent-sink-" + name);
            this.thread.setDaemon(true);
        }

        /**
         * Events count as delivered once a flush after them succeeded; if that flush fails,
         * every event since the last good flush counts as failed.
         */
        @Override
        public void run() {
            long pending = 0;
            try {
                while (true) {
                    CaptureEvent e = queue.poll(50, TimeUnit.MILLISECONDS);
                    if (e == null || e == STOP) {
                        pending = flush(pending);
                        if (closing) {
                            break;
                        }
                        continue;
                    }
                    queuedBytes.addAndGet(-weight(e));
                    if (call(() -> sink.accept(e))) {
                        pending++;
                    } else {
                        failed.incrementAndGet();
                    }
                }
            } catch (InterruptedException ie) {
                // close() gave up waiting; what is left is counted as dropped there
            } finally {
                flush(pending);
                call(sink::close);
            }
        }

        private long flush(long pending) {
            if (pending == 0) {
                return 0;
            }
            if (call(sink::flush)) {
                delivered.addAndGet(pending);
            } else {
                failed.addAndGet(pending);
            }
            return 0;
        }

        private interface Action {
            void run() throws Exception;
        }

        private long errors;

        private boolean call(Action a) {
            try {
                a.run();
                return true;
            } catch (Throwable t) {
                errors++;
                if (errors == 1 || errors % 10_000 == 0) {
                    problems.accept("sink " + name + " failed (" + errors + " failures so far): " + t
                            + "; its events are counted as failed, other sinks continue");
                }
                return false;
            }
        }
    }
}
