package io.btfagent.sink;

import io.btfagent.event.CaptureEvent;
import io.btfagent.event.EventView;
import io.btfagent.redact.Redactor;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
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
 *
 * <p>A sink that cannot write now says so with {@link SinkUnavailable} and holds what it could
 * not write: its thread then hands it nothing new and has it try again after a pause that grows
 * from {@link #BACKOFF_MIN_MS} to {@link #BACKOFF_MAX_MS}; the queue keeps what arrives
 * meanwhile (what does not fit is dropped, queue full), and what has waited longer than the
 * sink's {@link Sink#maxHoldMillis()} fails. One line says when such a fault begins and one
 * when it ends, never one per retry.
 *
 * <p>Nothing is allocated per event once a sink's queue has warmed up: {@link #publish(EventView)}
 * copies the event into a slot the sink's queue owns (a reused {@link EventView} whose data
 * lies in the queue's ring of bytes), the sink's thread hands the slot to
 * {@link Sink#accept(EventView)} and gives it back after the batch. A queue's slots are at most
 * its capacity plus one batch; its ring of bytes grows (fourfold) only while the sink falls
 * behind, up to the byte budget plus two batches.
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
    private static final Slot STOP = new Slot();

    /** Most events handed to a sink between two flushes. */
    static final int MAX_BATCH = 512;
    /**
     * Captured bytes after which a batch is closed and flushed: a file sink holds at most about
     * this much (as text) before writing it, so little is lost if the JVM dies.
     */
    static final int MAX_BATCH_BYTES = 64 * 1024;

    /** How long a sink's thread waits before it looks at its queue again while events flow. */
    static final long LINGER_NANOS = TimeUnit.MILLISECONDS.toNanos(1);
    /** How many such looks find nothing before the thread waits on its queue (20 ms). */
    static final int LINGER_STEPS = 20;

    /** Bytes an event is counted for in a queue's budget besides its data. */
    static final int EVENT_OVERHEAD = 256;

    /** First pause before a sink that holds events (see {@link SinkUnavailable}) tries again. */
    static final long BACKOFF_MIN_MS = 100;
    /** Longest such pause: the pause doubles after each try that still fails. */
    static final long BACKOFF_MAX_MS = 2_000;

    private final List<Worker> workers = new ArrayList<>();
    /** Sinks added while the agent runs ({@link #tap}), with the events they take; not in the stats. */
    private volatile Tapped[] taps = new Tapped[0];
    private final UnaryOperator<CaptureEvent> before;
    /** {@code before} applied to a view in place; null when it is the identity. */
    private final Consumer<EventView> beforeInPlace;
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
        if (before instanceof Redactor r) {
            this.beforeInPlace = r::mask;
        } else if (before == UnaryOperator.<CaptureEvent>identity()) {
            this.beforeInPlace = null;
        } else {
            this.beforeInPlace = v -> {
                CaptureEvent in = v.toEvent();
                CaptureEvent out = before.apply(in);
                if (out != in) {
                    v.of(out);
                }
            };
        }
        for (Map.Entry<String, Sink> e : sinks.entrySet()) {
            Worker w = new Worker(e.getKey(), e.getValue(), queueCapacity, queueBytes, problems);
            workers.add(w);
            w.thread.start();
        }
    }

    /** Offers the event to every sink's queue; a full queue counts a drop for that sink. */
    public void publish(CaptureEvent event) {
        offer(EventView.from(before.apply(event)));
    }

    /**
     * Offers the event to every sink's queue, copying it (a full queue counts a drop for that
     * sink): the caller may reuse the view when this returns. {@code before} (redaction) masks
     * its data in place first.
     */
    public synchronized void publish(EventView event) { // JSSE publishes from application threads
        if (beforeInPlace != null && (!workers.isEmpty() || taps.length > 0)) { // with no sink, masking has no effect
            beforeInPlace.accept(event);
        }
        offer(event);
    }

    private synchronized void offer(EventView e) {
        long now = System.nanoTime();
        int n = e.dataLength();
        long size = n + (long) EVENT_OVERHEAD;
        published.incrementAndGet();
        publishedBytes.addAndGet(n);
        for (int i = 0; i < workers.size(); i++) { // no iterator: nothing allocated per event
            Worker w = workers.get(i);
            if (w.queuedBytes.addAndGet(size) > w.byteBudget || !w.offer(e, now)) {
                w.queuedBytes.addAndGet(-size);
                w.queueFull.add(1, n);
            }
        }
        Tapped[] t = taps;
        for (int i = 0; i < t.length; i++) {
            Worker w = t[i].worker;
            if (!t[i].takes.test(e)) {
                continue;
            }
            if (w.queuedBytes.addAndGet(size) > w.byteBudget || !w.offer(e, now)) {
                w.queuedBytes.addAndGet(-size);
                w.queueFull.add(1, n);
            }
        }
    }

    private record Tapped(Worker worker, java.util.function.Predicate<EventView> takes) {
    }

    /** A sink added while the agent runs: its counts, and {@link #close()} to remove it. */
    public final class Tap implements AutoCloseable {
        private final Tapped tapped;

        private Tap(Tapped tapped) {
            this.tapped = tapped;
        }

        /** Events it took, delivered (written) so far. */
        public Count delivered() {
            return tapped.worker.delivered.get();
        }

        /** Events it took that its full queue dropped so far. */
        public Count dropped() {
            return tapped.worker.queueFull.get();
        }

        /** Removes it: it gets no more events; what it has queued is given to it for up to a second. */
        @Override
        public void close() {
            untap(tapped);
        }
    }

    /**
     * Adds {@code sink} behind a queue of its own ({@code queueCapacity} events, {@code queueBytes}
     * bytes) for the events {@code takes} accepts (after redaction), until the returned tap is
     * closed. A tap that cannot keep up drops its own events, counted in {@link Tap#dropped()},
     * like any sink; it is not part of {@link #stats()}. For {@code watch}.
     */
    public Tap tap(String name, Sink sink, int queueCapacity, long queueBytes,
            java.util.function.Predicate<EventView> takes) {
        Worker w = new Worker(name, sink, queueCapacity, queueBytes, line -> { });
        Tapped t = new Tapped(w, takes);
        w.thread.start();
        synchronized (this) { // publish() runs under this lock too: it sees both changes
            if (before instanceof Redactor r) {
                r.describeHeaders(true); // a watch shows HTTP/2 header blocks decoded
            }
            Tapped[] now = java.util.Arrays.copyOf(taps, taps.length + 1);
            now[now.length - 1] = t;
            taps = now;
        }
        return new Tap(t);
    }

    private void untap(Tapped t) {
        synchronized (this) {
            List<Tapped> rest = new ArrayList<>(List.of(taps));
            if (!rest.remove(t)) {
                return;
            }
            taps = rest.toArray(new Tapped[0]);
            t.worker.closing = true;
            t.worker.queue.offer(STOP);
        }
        try {
            t.worker.thread.join(1000);
        } catch (InterruptedException ie) {
            Thread.currentThread().interrupt();
        }
        t.worker.abandonIfRunning();
    }

    /** Removes every tap (at detach and exit). */
    void untapAll() {
        for (Tapped t : taps) {
            untap(t);
        }
    }

    private static long weight(Slot slot) {
        return slot.view.dataLength() + (long) EVENT_OVERHEAD;
    }

    /** An event in a sink's queue: the view the sink is handed, and where its data lies. */
    static final class Slot {
        final EventView view = new EventView();
        /** The ring the data was taken from, null if it has an array of its own. */
        DataRing ring;
        /** The ring position after the data: releasing the slot frees the ring up to it. */
        long end;
        /** {@link System#nanoTime()} when it was queued. */
        long queuedAt;

        int bytes() {
            return view.dataLength();
        }
    }

    /**
     * The bytes of queued events, in one array used as a ring: one thread takes space at the
     * head, one gives it back at the tail in the same order. An event's data is never split:
     * one that does not fit before the end starts again at the beginning.
     */
    static final class DataRing {
        final byte[] buf;
        /** Bytes taken so far, over the ring's life (the producer's). */
        private long head;
        /** Bytes given back so far (the consumer's). */
        private volatile long tail;

        DataRing(int size) {
            buf = new byte[size];
        }

        int size() {
            return buf.length;
        }

        /** Where {@code len} bytes may be written, or -1 if there is no room now. */
        int take(int len) {
            int size = buf.length;
            if (len > size) {
                return -1;
            }
            long pos = head;
            int off = (int) (pos % size);
            if (off + len > size) {
                pos += size - off;
                off = 0;
            }
            if (pos + len - tail > size) {
                return -1;
            }
            head = pos + len;
            return off;
        }

        long head() {
            return head;
        }

        /** Gives back everything up to {@code end} (a {@link #head()} seen after a take). */
        void release(long end) {
            tail = end;
        }
    }

    /**
     * How much larger a full ring's successor is: the rings a lagging sink left behind are
     * garbage, at most a third of the last one.
     */
    static final long GROWTH = 4;
    /** First size of a queue's ring of bytes. */
    static final int RING_START = 64 * 1024;
    /** Largest ring of bytes, whatever the byte budget (a larger event gets an array of its own). */
    static final int RING_MAX = 64 * 1024 * 1024;

    /** Whether any sink receives events. */
    public boolean hasSinks() {
        return !workers.isEmpty();
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

    /** A sink queue's slots made so far, those given back and free now, and its ring of bytes (tests). */
    record QueueShape(int slotsMade, int slotsFree, int ringBytes) {
    }

    /** Each sink queue's shape, in config order; exact only while nothing is being published. */
    List<QueueShape> queueShapes() {
        List<QueueShape> out = new ArrayList<>();
        for (Worker w : workers) {
            synchronized (this) {
                out.add(new QueueShape(w.slotsMade, w.free.size(), w.ring.size()));
            }
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
        untapAll();
        long end = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(deadlineMs);
        synchronized (this) { // not while publish() fills a queue it found room in
            for (Worker w : workers) {
                w.closing = true;
                w.queue.offer(STOP); // wakes an idle worker now; a busy one sees closing when it runs dry
            }
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

        void add(Slot e) {
            add(1, e.bytes());
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
        /** Events waiting for the sink, in order. */
        final BlockingQueue<Slot> queue;
        /** Slots given back after their batch, for the publisher to fill again. */
        final BlockingQueue<Slot> free;
        final int slotLimit;
        int slotsMade;
        /** Where the publisher puts events' data now (a larger one replaces it when it is full). */
        DataRing ring = new DataRing(RING_START);
        final int ringMax;
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
            // the publisher may fill a whole queue while the sink holds a batch
            this.slotLimit = capacity + MAX_BATCH;
            this.free = new ArrayBlockingQueue<>(slotLimit);
            this.ringMax = (int) Math.min(RING_MAX, Math.max(RING_START, byteBudget + 2L * MAX_BATCH_BYTES));
            this.byteBudget = byteBudget;
            this.problems = problems;
            this.thread = new Thread(this, "btf-agent-sink-" + name);
            this.thread.setDaemon(true);
            this.lastReported = new SinkStats(name, Count.ZERO, Count.ZERO, Count.ZERO, Count.ZERO, Map.of());
            long hold;
            try {
                hold = sink.maxHoldMillis();
            } catch (RuntimeException e) {
                hold = Sink.DEFAULT_MAX_HOLD_MS;
            }
            this.maxHoldNanos = TimeUnit.MILLISECONDS.toNanos(Math.max(0, hold));
        }

        /** Longest an event waits while the sink holds events (see {@link SinkUnavailable}). */
        final long maxHoldNanos;
        /** Events (and their captured bytes) the sink holds now; guarded by {@link #lock}. */
        private long held;
        private long heldBytes;
        /** When the current fault began ({@link System#nanoTime()}), and the counts then. */
        private long faultSince;
        private Count faultDelivered;
        private Count faultQueueFull;
        private Count faultFailed;
        /** Whether the sink wrote again since the fault began (the queue it left may still be full). */
        private boolean recovered;
        private long peakHeld;
        private long peakHeldBytes;
        /** Events queued when the sink first wrote again (-1 before), and its delivered count then. */
        private long backlog = -1;
        private long deliveredAtRecovery;

        /** Copies {@code e} into a slot at the queue's tail; false if the queue is full. On the publisher's thread. */
        boolean offer(EventView e, long now) {
            if (queue.remainingCapacity() == 0) {
                return false;
            }
            Slot slot = free.poll();
            if (slot == null) {
                if (slotsMade == slotLimit) {
                    return false;
                }
                slotsMade++;
                slot = new Slot();
            }
            int n = e.dataLength();
            int at = ring.take(n);
            if (at < 0 && ring.size() < ringMax) {
                // the sink is behind by more than the ring holds: a larger one from here on
                // (the old one goes once the slots in it are given back)
                ring = new DataRing((int) Math.min(ringMax, Math.max(GROWTH * ring.size(), 2L * n)));
                at = ring.take(n);
            }
            byte[] into;
            if (at >= 0) {
                into = ring.buf;
                slot.ring = ring;
                slot.end = ring.head();
            } else { // larger than any ring: an array of its own
                into = new byte[n];
                at = 0;
                slot.ring = null;
            }
            System.arraycopy(e.array(), e.dataOffset(), into, at, n);
            slot.view.copyFieldsFrom(e);
            slot.queuedAt = now;
            slot.view.data(into, at, n);
            queue.add(slot); // room was checked above, and only this thread adds
            return true;
        }

        /** Gives the slots of a settled batch back: their ring space and themselves. */
        private void recycle(List<Slot> batch) {
            for (int i = 0; i < batch.size(); i++) {
                Slot s = batch.get(i);
                if (s.ring != null) {
                    s.ring.release(s.end);
                    s.ring = null;
                }
                s.view.data(EMPTY, 0, 0);
                free.offer(s);
            }
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
            List<Slot> batch = new ArrayList<>(MAX_BATCH);
            int idle = 0;
            try {
                while (true) {
                    Slot first = queue.poll();
                    if (first == null && idle < LINGER_STEPS && !closing) {
                        // While events flow, look again shortly rather than wait on the queue:
                        // the publisher then never has to wake this thread (a system call per
                        // event), and the events of a millisecond make one batch and one write.
                        idle++;
                        LockSupport.parkNanos(LINGER_NANOS);
                        if (Thread.interrupted()) {
                            throw new InterruptedException();
                        }
                        continue;
                    }
                    if (first == null) {
                        first = queue.poll(50, TimeUnit.MILLISECONDS);
                    }
                    if (first == null || first == STOP) {
                        if (faultSince != 0 && recovered && queue.isEmpty()) {
                            endFault();
                        }
                        if (closing && queue.isEmpty()) {
                            if (faultSince != 0) {
                                problems.accept("sink " + name + " had not written again at exit, after "
                                        + faultSummary());
                            }
                            break;
                        }
                        continue;
                    }
                    idle = 0;
                    batch.clear();
                    batch.add(first);
                    long batchBytes = first.bytes();
                    while (batch.size() < MAX_BATCH && batchBytes < MAX_BATCH_BYTES) {
                        Slot next = queue.poll();
                        if (next == null) {
                            break;
                        }
                        if (next != STOP) {
                            batch.add(next);
                            batchBytes += next.bytes();
                        }
                    }
                    if (!process(batch)) {
                        return;
                    }
                    recycle(batch);
                }
            } catch (InterruptedException ie) {
                // close() gave up waiting; what is left is counted there
            } finally {
                if (faultSince == 0) {
                    call(sink::close);
                } else {
                    // what it still held is dropped at exit, said once already: not a failure too
                    try {
                        sink.close();
                    } catch (Throwable t) {
                        lastError = String.valueOf(t);
                    }
                }
            }
        }

        /** Hands one batch to the sink and settles every event of it; false once abandoned. */
        private boolean process(List<Slot> batch) throws InterruptedException {
            long bytes = 0;
            for (int i = 0; i < batch.size(); i++) {
                Slot e = batch.get(i);
                queuedBytes.addAndGet(-weight(e));
                bytes += e.bytes();
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
            for (int i = 0; i < batch.size(); i++) {
                Slot e = batch.get(i);
                if (accept(e.view)) {
                    acceptedEvents++;
                    acceptedBytes += e.bytes();
                } else {
                    synchronized (lock) {
                        if (abandoned) {
                            return false;
                        }
                        failed.add(e);
                        unsettled--;
                        unsettledBytes -= e.bytes();
                    }
                }
            }
            if (!settleFlush(acceptedEvents, acceptedBytes)) {
                return false;
            }
            if (faultSince != 0) {
                notePeak();
                if (recovered && held == 0) {
                    if (backlog < 0) { // wrote again: what is queued now is what the fault left
                        backlog = queue.size();
                        deliveredAtRecovery = delivered.events.get();
                    } else if (delivered.events.get() - deliveredAtRecovery >= backlog) {
                        endFault(); // even when events keep coming and the queue is never empty
                    }
                }
            }
            return held == 0 || holdUntilWritten();
        }

        /**
         * Flushes the sink and settles the events it had: {@code events} accepted since the
         * previous flush plus those it held. False once abandoned.
         */
        private boolean settleFlush(long acceptedEvents, long acceptedBytes) {
            boolean flushed = call(sink::flush);
            synchronized (lock) {
                if (abandoned) {
                    return false;
                }
                long events = acceptedEvents + held;
                long bytes = acceptedBytes + heldBytes;
                long deliveredBefore = delivered.events.get();
                if (!flushed && lastThrown instanceof SinkUnavailable u && u.heldEvents() >= 0 && u.heldBytes() >= 0
                        && u.failedEvents() >= 0 && u.failedBytes() >= 0
                        && u.heldEvents() + u.failedEvents() <= events && u.heldBytes() + u.failedBytes() <= bytes) {
                    failed.add(u.failedEvents(), u.failedBytes());
                    delivered.add(events - u.heldEvents() - u.failedEvents(), bytes - u.heldBytes() - u.failedBytes());
                    held = u.heldEvents();
                    heldBytes = u.heldBytes();
                    if (u.failedEvents() > 0) {
                        lastError = "held longer than " + seconds(maxHoldNanos) + " while: " + u.getMessage();
                    }
                } else if (!flushed && lastThrown instanceof PartialFailure p && p.events() >= 0 && p.bytes() >= 0
                        && p.events() <= events && p.bytes() <= bytes) {
                    failed.add(p.events(), p.bytes());
                    delivered.add(events - p.events(), bytes - p.bytes());
                    held = 0;
                    heldBytes = 0;
                } else {
                    if (!flushed && lastThrown instanceof SinkUnavailable u) { // claims more than it had
                        failure(u);
                    }
                    (flushed ? delivered : failed).add(events, bytes);
                    held = 0;
                    heldBytes = 0;
                }
                unsettled = held;
                unsettledBytes = heldBytes;
                // a fault is over once the sink holds nothing and has written again
                recovered = held == 0 && delivered.events.get() > deliveredBefore;
                if (!recovered) {
                    backlog = -1; // still failing: the backlog is measured again when it writes
                }
            }
            return true;
        }

        /**
         * While the sink holds events: one line, then tries again after a growing pause, failing
         * what waited too long, until the sink holds nothing; then one line. False once abandoned.
         */
        private boolean holdUntilWritten() throws InterruptedException {
            if (faultSince == 0) {
                beginFault();
            }
            long pause = BACKOFF_MIN_MS;
            while (true) {
                long until = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(pause);
                for (long left; (left = until - System.nanoTime()) > 0; ) {
                    LockSupport.parkNanos(left);
                    if (Thread.interrupted()) {
                        throw new InterruptedException();
                    }
                }
                failExpired(System.nanoTime());
                notePeak();
                if (!settleFlush(0, 0)) {
                    return false;
                }
                if (held == 0) {
                    return true; // the fault ends (one line) once the queue it left is delivered too
                }
                pause = Math.min(BACKOFF_MAX_MS, pause * 2);
            }
        }

        /** One line: what the sink cannot write, what it holds, what happens next. */
        private void beginFault() {
            faultSince = System.nanoTime();
            faultDelivered = delivered.get();
            faultQueueFull = queueFull.get();
            faultFailed = failed.get();
            peakHeld = 0;
            peakHeldBytes = 0;
            notePeak();
            problems.accept("sink " + name + " cannot write now: " + lastThrown.getMessage() + "; it holds " + held
                    + " events (" + heldBytes + " bytes) and its queue keeps what arrives (" + queue.size()
                    + " events waiting, room for " + queue.remainingCapacity() + " more), trying again with a backoff"
                    + " of " + BACKOFF_MIN_MS + " ms to " + BACKOFF_MAX_MS / 1000 + " s; what waits longer than "
                    + seconds(maxHoldNanos) + " fails");
        }

        /** One line once the sink wrote again and what waited for it is delivered. */
        private void endFault() {
            problems.accept("sink " + name + " writes again after " + faultSummary());
            faultSince = 0;
            recovered = false;
            backlog = -1;
        }

        /** How long the fault lasted and what became of the events meanwhile. */
        private String faultSummary() {
            Count d = delivered.get().minus(faultDelivered);
            Count q = queueFull.get().minus(faultQueueFull);
            Count f = failed.get().minus(faultFailed);
            return String.format(java.util.Locale.ROOT, "%.1f s", (System.nanoTime() - faultSince) / 1e9)
                    + ": held up to " + peakHeld + " events (" + peakHeldBytes + " bytes); meanwhile delivered " + d
                    + ", dropped " + q + " (queue full), failed " + f + " (waited longer than " + seconds(maxHoldNanos)
                    + ")";
        }

        /** Records the most events held (by the sink and in its queue) during the fault. */
        private void notePeak() {
            int queued = queue.size();
            if (closing && queue.contains(STOP)) { // not an event
                queued--;
            }
            long events = held + queued;
            if (events > peakHeld) {
                peakHeld = events;
                peakHeldBytes = heldBytes + Math.max(0, queuedBytes.get() - (long) queued * EVENT_OVERHEAD);
            }
        }

        /** Fails the queued events that waited longer than the sink's hold time (oldest first). */
        private void failExpired(long now) {
            boolean any = false;
            for (Slot s = queue.peek(); s != null && s != STOP && now - s.queuedAt > maxHoldNanos; s = queue.peek()) {
                queue.poll(); // only this thread takes from the queue: it is s
                queuedBytes.addAndGet(-weight(s));
                failed.add(s);
                any = true;
                expired.clear();
                expired.add(s);
                recycle(expired);
            }
            if (any) {
                lastError = "waited longer than " + seconds(maxHoldNanos) + " for a sink that could not write: "
                        + (lastThrown == null ? "" : lastThrown.getMessage());
            }
        }

        private final List<Slot> expired = new ArrayList<>(1);

        /** After the exit deadline: whatever is queued or unconfirmed counts as dropped at exit. */
        void abandonIfRunning() {
            synchronized (lock) {
                if (thread.isAlive()) {
                    abandoned = true;
                    if (faultSince != 0) {
                        problems.accept("sink " + name + " still could not write at exit, after " + faultSummary()
                                + "; what it held (" + held + " events) and what was queued count as dropped at exit");
                    }
                    exit.add(unsettled, unsettledBytes);
                    unsettled = 0;
                    unsettledBytes = 0;
                    thread.interrupt();
                }
                List<Slot> leftover = new ArrayList<>();
                queue.drainTo(leftover);
                for (Slot e : leftover) {
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

        private boolean accept(EventView e) {
            try {
                sink.accept(e);
                return true;
            } catch (Throwable t) {
                failure(t);
                return false;
            }
        }

        private boolean call(Action a) {
            try {
                a.run();
                return true;
            } catch (Throwable t) {
                lastThrown = t;
                if (!(t instanceof SinkUnavailable)) { // a fault's begin and end are said by holdUntilWritten
                    failure(t);
                }
                return false;
            }
        }

        private void failure(Throwable t) {
            errors++;
            lastError = String.valueOf(t);
            if (errors == 1 || errors % 10_000 == 0) {
                problems.accept("sink " + name + " failed (" + errors + " failures so far): " + t
                        + "; its events are counted as failed, other sinks continue");
            }
        }
    }

    private static String seconds(long nanos) {
        long ms = TimeUnit.NANOSECONDS.toMillis(nanos);
        return ms % 1000 == 0 ? ms / 1000 + " s" : ms + " ms";
    }

    private static final byte[] EMPTY = new byte[0];
}
