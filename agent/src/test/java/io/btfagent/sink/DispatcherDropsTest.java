package io.btfagent.sink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.btfagent.event.CaptureEvent;
import io.btfagent.redact.Redactor;
import io.btfagent.sink.Dispatcher.Count;
import io.btfagent.sink.Dispatcher.SinkStats;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Drops and failures counted per sink and reason, in events and bytes; redaction before every sink. */
@Timeout(60)
class DispatcherDropsTest {
    private final List<String> problems = Collections.synchronizedList(new ArrayList<>());

    /** Event {@code n} with {@code size} bytes of data. */
    private static CaptureEvent sized(int n, int size) {
        return new CaptureEvent(Events.TS + n, 1, 1, "t", "openssl", "3", "/l", "SSL_write", "egress", n, -1, null,
                null, size, 0, size, false, new byte[size]);
    }

    private static Count c(long events, long bytes) {
        return new Count(events, bytes);
    }

    @Test
    void aSinkBlockedTenSecondsAndAThrowingSinkStallNeitherThePublisherNorTheOtherSink() throws Exception {
        CountDownLatch slowEntered = new CountDownLatch(1);
        AtomicBoolean slowReturned = new AtomicBoolean();
        Sink slow = e -> {
            if (e.ssl() == 1) {
                slowEntered.countDown();
                Thread.sleep(10_000);
                slowReturned.set(true);
            }
        };
        java.util.concurrent.atomic.AtomicInteger thrown = new java.util.concurrent.atomic.AtomicInteger();
        Sink throwing = e -> {
            thrown.incrementAndGet();
            throw new IllegalStateException("broker gone");
        };
        List<Long> fastGot = Collections.synchronizedList(new ArrayList<>());
        Sink fast = e -> fastGot.add(e.ssl());
        Map<String, Sink> sinks = new LinkedHashMap<>();
        sinks.put("slow", slow);
        sinks.put("throwing", throwing);
        sinks.put("fast", fast);
        Dispatcher d = new Dispatcher(sinks, 16, problems::add);

        d.publish(sized(1, 100));
        assertTrue(slowEntered.await(10, TimeUnit.SECONDS));
        for (int i = 2; i <= 100; i++) {
            d.publish(sized(i, 100));
            // the fast and the throwing sink keep up (their queues of 16 never overflow) while the
            // slow one is blocked
            while (fastGot.size() < i || thrown.get() < i) {
                assertFalse(slowReturned.get(), "the fast sink took event " + i + " before the slow one returned");
                Thread.sleep(1);
            }
        }
        assertFalse(slowReturned.get(), "all 100 events were published while the slow sink was still blocked");
        assertEquals(100, fastGot.size());

        List<String> report = d.dropReport();
        assertEquals(List.of(
                "sink slow dropped 83 events (8300 bytes) since the last report because its queue was full (total 83"
                        + " events (8300 bytes)); it cannot keep up: raise sink.queue.capacity or sink.queue.bytes,"
                        + " or use a faster sink",
                "sink throwing failed on 100 events (10000 bytes) since the last report (total 100 events (10000"
                        + " bytes)); last error: java.lang.IllegalStateException: broker gone"), report);
        assertEquals(List.of(), d.dropReport(), "nothing new since the last report");

        d.close(30_000);
        assertTrue(slowReturned.get());
        assertEquals(List.of(
                new SinkStats("slow", c(17, 1700), c(83, 8300), c(0, 0), c(0, 0), Map.of()),
                new SinkStats("throwing", c(0, 0), c(0, 0), c(100, 10000), c(0, 0), Map.of()),
                new SinkStats("fast", c(100, 10000), c(0, 0), c(0, 0), c(0, 0), Map.of())), d.stats());
        assertEquals(c(100, 10000), d.published());
        for (SinkStats s : d.stats()) {
            assertEquals(d.published(), s.offered(), s.name() + ": every published event is counted exactly once");
        }
        assertEquals(List.of("sink throwing failed (1 failures so far): java.lang.IllegalStateException: broker"
                + " gone; its events are counted as failed, other sinks continue"), problems);
    }

    @Test
    void theSinksOwnCountersAreReported() {
        Sink counting = new Sink() {
            @Override
            public void accept(CaptureEvent event) {
            }

            @Override
            public Map<String, Long> counters() {
                return Map.of("rotations", 2L);
            }
        };
        Dispatcher d = new Dispatcher(Map.of("c", counting), 4, problems::add);
        d.publish(sized(1, 10));
        d.close(10_000);
        SinkStats s = d.stats().get(0);
        assertEquals(new SinkStats("c", c(1, 10), c(0, 0), c(0, 0), c(0, 0), Map.of("rotations", 2L)), s);
        assertEquals("sink c: delivered=1 dropped=0 failed=0 bytes: delivered=10 queue-full=0 (0 events) failed=0"
                + " (0 events) exit=0 (0 events); rotations=2", SinkSummary.line(s));
    }

    @Test
    void everySinkSeesTheMaskedEvent() {
        List<String> a = Collections.synchronizedList(new ArrayList<>());
        List<String> b = Collections.synchronizedList(new ArrayList<>());
        Map<String, Sink> sinks = new LinkedHashMap<>();
        sinks.put("a", e -> a.add(new String(e.data(), StandardCharsets.US_ASCII) + " " + e.redacted()));
        sinks.put("b", e -> b.add(new String(e.data(), StandardCharsets.US_ASCII) + " " + e.redacted()));
        Dispatcher d = new Dispatcher(sinks, 4, Long.MAX_VALUE, problems::add,
                Redactor.fromSettings(null, null, List.of(), problems::add));
        byte[] data = "Cookie: k=v\r\n".getBytes(StandardCharsets.US_ASCII);
        d.publish(new CaptureEvent(Events.TS, 1, 1, "t", "openssl", "3", "/l", "SSL_write", "egress", 1, -1, null,
                null, data.length, 0, data.length, false, data));
        d.close(10_000);
        assertEquals(List.of("Cookie: ***\r\n true"), a);
        assertEquals(List.of("Cookie: ***\r\n true"), b);
    }
}
