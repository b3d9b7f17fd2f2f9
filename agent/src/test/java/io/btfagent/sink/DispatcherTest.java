package io.btfagent.sink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.btfagent.event.CaptureEvent;
import io.btfagent.sink.Dispatcher.SinkStats;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

@Timeout(30)
class DispatcherTest {
    private static final long WAIT_S = 10;

    private final List<String> problems = Collections.synchronizedList(new ArrayList<>());
    /** Lets every sink blocked by a test go, so no worker thread outlives its test. */
    private final CountDownLatch release = new CountDownLatch(1);

    @AfterEach
    void releaseBlockedSinks() {
        release.countDown();
    }

    private static Dispatcher.Count c(long events, long bytes) {
        return new Dispatcher.Count(events, bytes);
    }

    /** Stats of a sink given only 1-byte events (Events.numbered): bytes equal events. */
    private static SinkStats ones(String name, long delivered, long queueFull, long failed) {
        return new SinkStats(name, c(delivered, delivered), c(queueFull, queueFull), c(failed, failed), c(0, 0),
                Map.of());
    }

    private static Map<String, Sink> sinks(Object... nameSink) {
        Map<String, Sink> m = new LinkedHashMap<>();
        for (int i = 0; i < nameSink.length; i += 2) {
            m.put((String) nameSink[i], (Sink) nameSink[i + 1]);
        }
        return m;
    }

    /** Records what it is given, in order. */
    private static final class RecordingSink implements Sink {
        final List<String> calls = Collections.synchronizedList(new ArrayList<>());

        @Override
        public void accept(CaptureEvent event) {
            calls.add("accept " + event.ssl());
        }

        @Override
        public void flush() {
            calls.add("flush");
        }

        @Override
        public void close() {
            calls.add("close");
        }

        List<String> accepted() {
            synchronized (calls) {
                return calls.stream().filter(c -> c.startsWith("accept ")).toList();
            }
        }
    }

    @Test
    void fullQueueDropsExactlyTheOverflow() throws Exception {
        CountDownLatch entered = new CountDownLatch(1);
        List<Long> got = Collections.synchronizedList(new ArrayList<>());
        Sink slow = e -> {
            got.add(e.ssl());
            entered.countDown();
            release.await(); // blocks on the first event only
        };
        Dispatcher d = new Dispatcher(sinks("slow", slow), 4, problems::add);

        d.publish(Events.numbered(1));
        assertTrue(entered.await(WAIT_S, TimeUnit.SECONDS), "the worker took event 1");
        for (int i = 2; i <= 5; i++) {
            d.publish(Events.numbered(i)); // fills the queue of 4
        }
        for (int i = 6; i <= 8; i++) {
            d.publish(Events.numbered(i)); // no room: dropped, publish does not block
        }
        assertEquals(List.of(ones("slow", 0, 3, 0)), d.stats());

        release.countDown();
        d.close(WAIT_S * 1000);
        assertEquals(List.of(ones("slow", 5, 3, 0)), d.stats());
        assertEquals(List.of(1L, 2L, 3L, 4L, 5L), got);
        assertEquals(List.of(), problems);
    }

    @Test
    void queuedBytesAreBoundedSoAStalledSinkCannotHoldTheHeap() throws Exception {
        CountDownLatch entered = new CountDownLatch(1);
        Sink slow = e -> {
            entered.countDown();
            release.await();
        };
        // each 1000-byte event weighs 1000 + 256: two fit in 3000 bytes, a third does not
        Dispatcher d = new Dispatcher(sinks("slow", slow), 100, 3000, problems::add);
        d.publish(Events.numbered(1));
        assertTrue(entered.await(WAIT_S, TimeUnit.SECONDS), "the worker took event 1; its bytes left the queue");
        for (int i = 2; i <= 5; i++) {
            CaptureEvent big = Events.numbered(i);
            d.publish(new CaptureEvent(big.epochNanos(), big.pid(), big.tid(), big.thread(), big.lib(),
                    big.libVersion(), big.libPath(), big.func(), big.dir(), big.ssl(), big.fd(), null, null, 1000, 0,
                    1000, false, new byte[1000]));
        }
        assertEquals(List.of(new SinkStats("slow", c(0, 0), c(2, 2000), c(0, 0), c(0, 0), Map.of())), d.stats(),
                "events 4 and 5 exceed the budget");
        release.countDown();
        d.close(WAIT_S * 1000);
        assertEquals(List.of(new SinkStats("slow", c(3, 2001), c(2, 2000), c(0, 0), c(0, 0), Map.of())), d.stats());
    }

    @Test
    void failingSinkCountsFailuresReportsOnceAndSparesTheOthers() {
        RecordingSink good = new RecordingSink();
        Sink bad = e -> {
            throw new IllegalStateException("boom");
        };
        Dispatcher d = new Dispatcher(sinks("bad", bad, "good", good), 16, problems::add);
        for (int i = 1; i <= 5; i++) {
            d.publish(Events.numbered(i));
        }
        d.close(WAIT_S * 1000);

        assertEquals(List.of(ones("bad", 0, 0, 5), ones("good", 5, 0, 0)), d.stats());
        assertEquals(List.of("sink bad failed (1 failures so far): java.lang.IllegalStateException: boom; "
                + "its events are counted as failed, other sinks continue"), problems);
        assertEquals(List.of("accept 1", "accept 2", "accept 3", "accept 4", "accept 5"), good.accepted());
    }

    @Test
    void closeGivesUpOnAStuckSinkAtTheDeadlineAndCountsQueuedAndUnconfirmedEventsAsDroppedAtExit() throws Exception {
        CountDownLatch entered = new CountDownLatch(1);
        CountDownLatch interrupted = new CountDownLatch(1);
        Sink stuck = e -> {
            entered.countDown();
            while (true) { // ignores interruption: returns only when the test ends
                try {
                    release.await();
                    return;
                } catch (InterruptedException ie) {
                    interrupted.countDown();
                }
            }
        };
        Dispatcher d = new Dispatcher(sinks("stuck", stuck), 4, problems::add);
        d.publish(Events.numbered(1));
        assertTrue(entered.await(WAIT_S, TimeUnit.SECONDS));
        for (int i = 2; i <= 4; i++) {
            d.publish(Events.numbered(i));
        }

        long t0 = System.nanoTime();
        d.close(200);
        long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);

        assertTrue(ms >= 150 && ms < 200 + 1000, "close took " + ms + " ms for a 200 ms deadline");
        // event 1 was in the sink's hands, 2-4 queued: all four dropped at exit
        assertEquals(List.of(new SinkStats("stuck", c(0, 0), c(0, 0), c(0, 0), c(4, 4), Map.of())), d.stats());
        assertTrue(interrupted.await(WAIT_S, TimeUnit.SECONDS), "the stuck worker was interrupted");
    }

    @Test
    void closeDeliversEverythingQueuedThenFlushesAndClosesOnce() {
        RecordingSink sink = new RecordingSink();
        Dispatcher d = new Dispatcher(sinks("rec", sink), 128, problems::add);
        List<String> expected = new ArrayList<>();
        for (int i = 1; i <= 100; i++) {
            d.publish(Events.numbered(i));
            expected.add("accept " + i);
        }
        d.close(WAIT_S * 1000);

        assertEquals(List.of(ones("rec", 100, 0, 0)), d.stats());
        assertEquals(expected, sink.accepted());
        List<String> calls = List.copyOf(sink.calls);
        assertEquals("close", calls.get(calls.size() - 1));
        assertEquals("flush", calls.get(calls.size() - 2));
        assertEquals(1, Collections.frequency(calls, "close"));
        assertTrue(calls.lastIndexOf("accept 100") < calls.size() - 2);
        assertEquals(List.of(), problems);
    }

    @Test
    void eachSinkHasItsOwnQueue() throws Exception {
        CountDownLatch entered = new CountDownLatch(1);
        Sink slow = e -> {
            entered.countDown();
            release.await();
        };
        Semaphore fastAccepted = new Semaphore(0);
        List<Long> fastGot = Collections.synchronizedList(new ArrayList<>());
        Sink fast = e -> {
            fastGot.add(e.ssl());
            fastAccepted.release();
        };
        Dispatcher d = new Dispatcher(sinks("slow", slow, "fast", fast), 2, problems::add);
        d.publish(Events.numbered(1));
        assertTrue(entered.await(WAIT_S, TimeUnit.SECONDS));
        assertTrue(fastAccepted.tryAcquire(WAIT_S, TimeUnit.SECONDS));
        for (int i = 2; i <= 6; i++) {
            d.publish(Events.numbered(i));
            // the fast sink keeps up, so its queue of 2 never overflows
            assertTrue(fastAccepted.tryAcquire(WAIT_S, TimeUnit.SECONDS), "fast sink took event " + i);
        }
        assertEquals(List.of(1L, 2L, 3L, 4L, 5L, 6L), fastGot);
        assertEquals(3, d.stats().get(0).dropped(), "slow: 2 queued, 3 dropped");
        assertEquals(0, d.stats().get(1).dropped(), "fast: nothing dropped");
        release.countDown();
        d.close(WAIT_S * 1000);
        assertEquals(List.of(ones("slow", 3, 3, 0), ones("fast", 6, 0, 0)), d.stats());
    }

    @Test
    void noSinksIsHarmless() {
        Dispatcher d = new Dispatcher(Map.of(), 4, problems::add);
        d.publish(Events.sample());
        d.close(100);
        assertEquals(List.of(), d.stats());
        assertEquals(List.of(), problems);
    }

    @Test
    void eventsWhoseFlushFailsCountAsFailedNotDelivered() {
        Sink sink = new Sink() {
            @Override
            public void accept(CaptureEvent event) {
            }

            @Override
            public void flush() throws Exception {
                throw new java.io.IOException("disk full");
            }
        };
        Dispatcher d = new Dispatcher(sinks("disk", sink), 16, problems::add);
        for (int i = 1; i <= 3; i++) {
            d.publish(Events.numbered(i));
        }
        d.close(WAIT_S * 1000);
        assertEquals(List.of(ones("disk", 0, 0, 3)), d.stats());
        assertEquals(List.of("sink disk failed (1 failures so far): java.io.IOException: disk full; "
                + "its events are counted as failed, other sinks continue"), problems);
    }

    @Test
    void idleSinkIsNeitherFlushedNorCountedButIsClosed() {
        RecordingSink sink = new RecordingSink();
        Dispatcher d = new Dispatcher(sinks("idle", sink), 4, problems::add);
        d.close(WAIT_S * 1000);
        assertEquals(List.of("close"), List.copyOf(sink.calls));
        assertEquals(List.of(ones("idle", 0, 0, 0)), d.stats());
    }

    @Test
    void failingCloseIsReportedButDoesNotChangeTheCounts() {
        Sink sink = new Sink() {
            @Override
            public void accept(CaptureEvent event) {
            }

            @Override
            public void close() throws Exception {
                throw new IllegalStateException("already closed");
            }
        };
        Dispatcher d = new Dispatcher(sinks("c", sink), 4, problems::add);
        d.publish(Events.numbered(1));
        d.close(WAIT_S * 1000);
        assertEquals(List.of(ones("c", 1, 0, 0)), d.stats());
        assertEquals(List.of("sink c failed (1 failures so far): java.lang.IllegalStateException: already closed; "
                + "its events are counted as failed, other sinks continue"), problems);
    }
}
