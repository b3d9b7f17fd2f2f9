package io.btfagent.sink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.btfagent.event.EventView;
import io.btfagent.sink.Dispatcher.Count;
import io.btfagent.sink.Dispatcher.QueueShape;
import io.btfagent.sink.Dispatcher.SinkStats;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * The reused path: events published from one reused view are copied into the queues' slots,
 * each sink sees its own exact copy, and slots and ring space come back after every batch.
 */
@Timeout(60)
class DispatcherSlotsTest {
    private final List<String> problems = Collections.synchronizedList(new ArrayList<>());

    /** The view filled as the ring reader fills it: event {@code n}, {@code size} bytes of {@code n}'s pattern. */
    private static EventView fill(EventView v, byte[] scratch, int n, int size) {
        for (int i = 0; i < size; i++) {
            scratch[i] = (byte) (n * 7 + i);
        }
        v.set(Events.TS + n, 1, 1, "t", "openssl", "3", "/l", "SSL_write", "egress", n, 0, null, 5, null, null, size,
                0, size, false);
        v.data(scratch, 0, size);
        return v;
    }

    private static boolean holdsPattern(EventView v, int n) {
        for (int i = 0; i < v.dataLength(); i++) {
            if (v.array()[v.dataOffset() + i] != (byte) (n * 7 + i)) {
                return false;
            }
        }
        return true;
    }

    /** A sink that checks each view's bytes during the call and keeps what it saw. */
    private static final class Checking implements Sink {
        final List<Long> seen = Collections.synchronizedList(new ArrayList<>());
        final AtomicLong wrong = new AtomicLong();
        volatile CountDownLatch gate;
        final CountDownLatch entered = new CountDownLatch(1);

        @Override
        public void accept(io.btfagent.event.CaptureEvent event) {
            throw new AssertionError("the reused path hands views");
        }

        @Override
        public void accept(EventView e) throws InterruptedException {
            entered.countDown();
            CountDownLatch g = gate;
            if (g != null) {
                g.await();
            }
            if (!holdsPattern(e, (int) e.ssl())) {
                wrong.incrementAndGet();
            }
            seen.add(e.ssl());
        }
    }

    private static void await(java.util.function.BooleanSupplier done) throws InterruptedException {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!done.getAsBoolean()) {
            assertTrue(System.nanoTime() < end, "timed out");
            Thread.sleep(1);
        }
    }

    @Test
    void slotsAndRingSpaceComeBackAfterEveryBatch() throws Exception {
        Checking a = new Checking();
        Checking b = new Checking();
        Map<String, Sink> sinks = new LinkedHashMap<>();
        sinks.put("a", a);
        sinks.put("b", b);
        Dispatcher d = new Dispatcher(sinks, 16, 1 << 20, problems::add);
        EventView view = new EventView();
        byte[] scratch = new byte[8192];
        int n = 0;
        long bytes = 0;
        // 60 rounds of 10 events of 1000 B: 600 KB through rings of 64 KiB
        for (int round = 0; round < 60; round++) {
            for (int k = 0; k < 10; k++) {
                n++;
                d.publish(fill(view, scratch, n, 1000));
                bytes += 1000;
            }
            int sent = n;
            await(() -> a.seen.size() == sent && b.seen.size() == sent
                    && d.queueShapes().stream().allMatch(q -> q.slotsFree() == q.slotsMade()));
        }
        for (QueueShape q : d.queueShapes()) {
            assertTrue(q.slotsMade() <= 10, "at most the events outstanding at once: " + q);
            assertEquals(Dispatcher.RING_START, q.ringBytes(), "the ring never had to grow: " + q);
        }
        d.close(10_000);
        for (Checking c : List.of(a, b)) {
            assertEquals(0, c.wrong.get());
            List<Long> expected = new ArrayList<>();
            for (long i = 1; i <= n; i++) {
                expected.add(i);
            }
            assertEquals(expected, c.seen);
        }
        assertEquals(new Count(n, bytes), d.published());
        assertEquals(List.of(new SinkStats("a", new Count(n, bytes), Count.ZERO, Count.ZERO, Count.ZERO, Map.of()),
                new SinkStats("b", new Count(n, bytes), Count.ZERO, Count.ZERO, Count.ZERO, Map.of())), d.stats());
        assertEquals(List.of(), problems);
    }

    @Test
    void aStalledSinkFillsItsQueueExactlyAndTheRingGrowsToHoldIt() throws Exception {
        Checking slow = new Checking();
        slow.gate = new CountDownLatch(1);
        Checking fast = new Checking();
        Map<String, Sink> sinks = new LinkedHashMap<>();
        sinks.put("slow", slow);
        sinks.put("fast", fast);
        // 300 events fit by count; by bytes 200 KiB hold 40 of 5000 + 256
        Dispatcher d = new Dispatcher(sinks, 300, 200 * 1024, problems::add);
        EventView view = new EventView();
        byte[] scratch = new byte[8192];
        d.publish(fill(view, scratch, 1, 5000));
        assertTrue(slow.entered.await(30, TimeUnit.SECONDS), "the slow sink holds event 1");
        for (int n = 2; n <= 100; n++) {
            d.publish(fill(view, scratch, n, 5000));
            int sent = n;
            await(() -> fast.seen.size() == sent);
        }
        int held = 200 * 1024 / (5000 + Dispatcher.EVENT_OVERHEAD);
        SinkStats before = d.stats().get(0);
        assertEquals(new Count(100 - 1 - held, (100 - 1 - held) * 5000L), before.queueFull());
        QueueShape shape = d.queueShapes().get(0);
        assertEquals(1 + held, shape.slotsMade());
        // 13 events filled the first ring of 64 KiB, the rest a second four times its size
        assertEquals(4 * Dispatcher.RING_START, shape.ringBytes(), "the ring grew once: " + shape);
        slow.gate.countDown();
        d.close(10_000);
        assertEquals(0, slow.wrong.get(), "every queued view kept its own bytes while the ring grew");
        List<Long> expected = new ArrayList<>();
        for (long i = 1; i <= 1 + held; i++) {
            expected.add(i);
        }
        assertEquals(expected, slow.seen);
        assertEquals(new SinkStats("slow", new Count(1 + held, (1 + held) * 5000L),
                new Count(99 - held, (99 - held) * 5000L), Count.ZERO, Count.ZERO, Map.of()), d.stats().get(0));
        assertEquals(new SinkStats("fast", new Count(100, 500_000), Count.ZERO, Count.ZERO, Count.ZERO, Map.of()),
                d.stats().get(1));
        assertEquals(0, fast.wrong.get());
        QueueShape after = d.queueShapes().get(0);
        assertEquals(after.slotsMade(), after.slotsFree(), "every slot came back: " + after);
    }

    @Test
    void aSinkKeepingEventsGetsImmutableCopies() {
        List<io.btfagent.event.CaptureEvent> kept = Collections.synchronizedList(new ArrayList<>());
        Dispatcher d = new Dispatcher(Map.of("keep", kept::add), 8, problems::add);
        EventView view = new EventView();
        byte[] scratch = new byte[8192];
        for (int n = 1; n <= 5; n++) {
            d.publish(fill(view, scratch, n, 100 + n));
        }
        d.close(10_000);
        assertEquals(5, kept.size());
        for (int n = 1; n <= 5; n++) {
            io.btfagent.event.CaptureEvent e = kept.get(n - 1);
            assertEquals(n, e.ssl());
            assertEquals(100 + n, e.data().length);
            assertTrue(holdsPattern(EventView.from(e), n), "event " + n + " kept its own bytes");
            assertEquals(5, e.fd());
        }
    }
}
