package io.btfagent.sink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.btfagent.event.CaptureEvent;
import io.btfagent.sink.Dispatcher.Count;
import io.btfagent.sink.Dispatcher.SinkStats;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A sink that cannot write for a while ({@link SinkUnavailable}) holds its events and gets them
 * again after a backoff; its queue keeps what arrives meanwhile; only what does not fit is
 * dropped and only what waited too long fails; one line when the fault begins, one when it ends.
 */
@Timeout(60)
class DispatcherHoldTest {
    private final List<String> problems = Collections.synchronizedList(new ArrayList<>());

    /** Event n carries n bytes. */
    private static CaptureEvent sized(int n) {
        CaptureEvent e = Events.numbered(n);
        return new CaptureEvent(e.epochNanos(), e.pid(), e.tid(), e.thread(), e.lib(), e.libVersion(), e.libPath(),
                e.func(), e.dir(), n, e.conn(), e.role(), e.fd(), e.local(), e.remote(), n, 0, n, false, new byte[n]);
    }

    private static long bytes(int from, int to) {
        long b = 0;
        for (int n = from; n <= to; n++) {
            b += n;
        }
        return b;
    }

    /** Writes nothing while {@code down}: holds what it was given, and fails it after {@code maxHoldMs}. */
    private static final class Outage implements Sink {
        volatile boolean down = true;
        final long maxHoldMs;
        final AtomicInteger flushes = new AtomicInteger();
        final List<Integer> written = Collections.synchronizedList(new ArrayList<>());
        private final List<Integer> pending = new ArrayList<>();
        private long heldSince;

        Outage(long maxHoldMs) {
            this.maxHoldMs = maxHoldMs;
        }

        @Override
        public void accept(CaptureEvent event) {
            pending.add(event.data().length);
        }

        @Override
        public void flush() throws SinkUnavailable {
            flushes.incrementAndGet();
            long failedEvents = 0;
            long failedBytes = 0;
            if (heldSince != 0 && System.nanoTime() - heldSince > maxHoldMs * 1_000_000) {
                failedEvents = pending.size();
                failedBytes = pending.stream().mapToLong(Integer::longValue).sum();
                pending.clear();
                heldSince = 0;
            }
            if (down && !pending.isEmpty()) {
                if (heldSince == 0) {
                    heldSince = System.nanoTime();
                }
                throw new SinkUnavailable(pending.size(), pending.stream().mapToLong(Integer::longValue).sum(),
                        failedEvents, failedBytes, "cannot write /x/y: No space left on device");
            }
            written.addAll(pending);
            pending.clear();
            heldSince = 0;
            if (failedEvents > 0) {
                throw new SinkUnavailable(0, 0, failedEvents, failedBytes, "held too long");
            }
        }

        @Override
        public long maxHoldMillis() {
            return maxHoldMs;
        }
    }

    private static void await(java.util.function.BooleanSupplier done) throws InterruptedException {
        long end = System.nanoTime() + 30_000_000_000L;
        while (!done.getAsBoolean()) {
            assertTrue(System.nanoTime() < end, "timed out");
            Thread.sleep(5);
        }
    }

    private Dispatcher start(Outage sink, int capacity) {
        Map<String, Sink> sinks = new LinkedHashMap<>();
        sinks.put("disk", sink);
        return new Dispatcher(sinks, capacity, problems::add);
    }

    private static List<Integer> range(int from, int to) {
        List<Integer> l = new ArrayList<>();
        for (int n = from; n <= to; n++) {
            l.add(n);
        }
        return l;
    }

    @Test
    void whatArrivesDuringAnOutageIsHeldThenDeliveredInOrderWithOneLineEachWay() throws Exception {
        Outage sink = new Outage(60_000);
        Dispatcher d = start(sink, 1024);
        d.publish(sized(1));
        await(() -> sink.flushes.get() >= 1); // event 1 is held by the sink
        for (int n = 2; n <= 100; n++) {
            d.publish(sized(n));
        }
        Thread.sleep(1_000); // a few tries, all failing
        int triesWhileDown = sink.flushes.get();
        sink.down = false;
        await(() -> sink.written.size() == 100);
        d.close(10_000);
        assertEquals(range(1, 100), sink.written);
        assertEquals(List.of(new SinkStats("disk", new Count(100, bytes(1, 100)), Count.ZERO, Count.ZERO, Count.ZERO,
                Map.of())), d.stats());
        assertEquals(2, problems.size(), problems.toString());
        assertTrue(problems.get(0).startsWith("sink disk cannot write now: cannot write /x/y: No space left on device;"
                + " it holds 1 events (1 bytes)"), problems.get(0));
        assertTrue(problems.get(1).startsWith("sink disk writes again after "), problems.get(1));
        assertTrue(problems.get(1).endsWith(": held up to 100 events (" + bytes(1, 100) + " bytes); meanwhile delivered"
                + " 100 events (" + bytes(1, 100) + " bytes), dropped 0 events (0 bytes) (queue full), failed 0 events"
                + " (0 bytes) (waited longer than 60 s)"), problems.get(1));
        // 100 ms, 200 ms, 400 ms ... : a handful of tries in a second, not a busy loop
        assertTrue(triesWhileDown >= 3 && triesWhileDown <= 6, "tries in 1 s: " + triesWhileDown);
        assertEquals(List.of(), d.dropReport());
    }

    @Test
    void onlyWhatDoesNotFitTheQueueIsDroppedAsQueueFull() throws Exception {
        Outage sink = new Outage(60_000);
        Dispatcher d = start(sink, 10);
        d.publish(sized(1));
        await(() -> sink.flushes.get() >= 1);
        for (int n = 2; n <= 50; n++) {
            d.publish(sized(n));
        }
        sink.down = false;
        await(() -> sink.written.size() == 11);
        d.close(10_000);
        assertEquals(range(1, 11), sink.written);
        assertEquals(List.of(new SinkStats("disk", new Count(11, bytes(1, 11)), new Count(39, bytes(12, 50)),
                Count.ZERO, Count.ZERO, Map.of())), d.stats());
        assertEquals(2, problems.size(), problems.toString());
        assertTrue(problems.get(1).contains("; meanwhile delivered 11 events (" + bytes(1, 11) + " bytes), dropped 39"
                + " events (" + bytes(12, 50) + " bytes) (queue full), failed 0 events"), problems.get(1));
        List<String> report = d.dropReport();
        assertEquals(1, report.size(), report.toString());
        assertTrue(report.get(0).startsWith("sink disk dropped 39 events (" + bytes(12, 50) + " bytes) since the last"
                + " report because its queue was full"), report.get(0));
    }

    @Test
    void whatWaitedLongerThanTheSinksHoldTimeFailsTheRestIsDelivered() throws Exception {
        Outage sink = new Outage(300);
        Dispatcher d = start(sink, 1024);
        d.publish(sized(1));
        await(() -> sink.flushes.get() >= 1);
        for (int n = 2; n <= 6; n++) {
            d.publish(sized(n));
        }
        // the sink fails event 1 and the dispatcher events 2..6 once they waited 300 ms
        await(() -> d.stats().get(0).failed().events() == 6);
        for (int n = 7; n <= 9; n++) {
            d.publish(sized(n));
        }
        sink.down = false;
        await(() -> sink.written.size() == 3);
        d.close(10_000);
        assertEquals(range(7, 9), sink.written);
        assertEquals(List.of(new SinkStats("disk", new Count(3, bytes(7, 9)), Count.ZERO, new Count(6, bytes(1, 6)),
                Count.ZERO, Map.of())), d.stats());
        assertEquals(2, problems.size(), problems.toString());
        assertTrue(problems.get(1).endsWith("; meanwhile delivered 3 events (" + bytes(7, 9) + " bytes), dropped 0"
                + " events (0 bytes) (queue full), failed 6 events (" + bytes(1, 6) + " bytes) (waited longer than"
                + " 300 ms)"), problems.get(1));
        List<String> report = d.dropReport();
        assertEquals(1, report.size(), report.toString());
        assertTrue(report.get(0).startsWith("sink disk failed on 6 events (" + bytes(1, 6) + " bytes)"), report.get(0));
    }

    @Test
    void whatIsStillHeldAtExitIsDroppedAtExitAndSaidOnce() throws Exception {
        Outage sink = new Outage(60_000);
        Dispatcher d = start(sink, 1024);
        d.publish(sized(1));
        await(() -> sink.flushes.get() >= 1);
        for (int n = 2; n <= 20; n++) {
            d.publish(sized(n));
        }
        d.close(300);
        assertEquals(List.of(), sink.written);
        assertEquals(List.of(new SinkStats("disk", Count.ZERO, Count.ZERO, Count.ZERO, new Count(20, bytes(1, 20)),
                Map.of())), d.stats());
        assertEquals(2, problems.size(), problems.toString());
        assertTrue(problems.get(1).startsWith("sink disk still could not write at exit, after "), problems.get(1));
        assertTrue(problems.get(1).endsWith("; what it held (1 events) and what was queued count as dropped at exit"),
                problems.get(1));
    }

    @Test
    void aSinkClaimingToHoldMoreThanItHadFailsTheBatchInOneLine() {
        Map<String, Sink> sinks = new LinkedHashMap<>();
        sinks.put("liar", new Sink() {
            @Override
            public void accept(CaptureEvent event) {
            }

            @Override
            public void flush() throws SinkUnavailable {
                throw new SinkUnavailable(1_000_000, 1, 0, 0, "more than it was given");
            }
        });
        Dispatcher d = new Dispatcher(sinks, 1024, problems::add);
        for (int n = 1; n <= 10; n++) {
            d.publish(sized(n));
        }
        d.close(10_000);
        assertEquals(List.of(new SinkStats("liar", Count.ZERO, Count.ZERO, new Count(10, 55), Count.ZERO, Map.of())),
                d.stats());
        assertEquals(1, problems.size(), problems.toString());
        assertTrue(problems.get(0).startsWith("sink liar failed (1 failures so far): io.btfagent.sink.SinkUnavailable:"
                + " more than it was given"), problems.get(0));
    }
}
