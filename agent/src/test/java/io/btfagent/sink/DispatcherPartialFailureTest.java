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
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** A flush that fails part of a batch ({@link PartialFailure}): only that part counts as failed. */
@Timeout(30)
class DispatcherPartialFailureTest {
    private final List<String> problems = Collections.synchronizedList(new ArrayList<>());

    /** Event n carries n bytes. */
    private static CaptureEvent sized(int n) {
        CaptureEvent e = Events.numbered(n);
        return new CaptureEvent(e.epochNanos(), e.pid(), e.tid(), e.thread(), e.lib(), e.libVersion(), e.libPath(),
                e.func(), e.dir(), n, e.conn(), e.role(), e.fd(), e.local(), e.remote(), n, 0, n, false, new byte[n]);
    }

    /** Fails the events with an even number of bytes, at flush, as a broker would. */
    private static final class EvenFails implements Sink {
        private long events;
        private long bytes;

        @Override
        public void accept(CaptureEvent event) {
            if (event.data().length % 2 == 0) {
                events++;
                bytes += event.data().length;
            }
        }

        @Override
        public void flush() throws PartialFailure {
            try {
                if (events > 0) {
                    throw new PartialFailure(events, bytes, "TimeoutException: expired");
                }
            } finally {
                events = 0;
                bytes = 0;
            }
        }
    }

    @Test
    void onlyTheFailedPartOfABatchCountsAsFailedInEventsAndBytes() {
        Map<String, Sink> sinks = new LinkedHashMap<>();
        sinks.put("half", new EvenFails());
        Dispatcher d = new Dispatcher(sinks, 1024, problems::add);
        long evenBytes = 0;
        long oddBytes = 0;
        for (int n = 1; n <= 100; n++) {
            d.publish(sized(n));
            if (n % 2 == 0) {
                evenBytes += n;
            } else {
                oddBytes += n;
            }
        }
        d.close(10_000);
        assertEquals(List.of(new SinkStats("half", new Count(50, oddBytes), Count.ZERO, new Count(50, evenBytes),
                Count.ZERO, Map.of())), d.stats());
        assertTrue(!problems.isEmpty() && problems.get(0).startsWith("sink half failed (1 failures so far): "
                + "io.btfagent.sink.PartialFailure: "), problems.toString());
        assertTrue(problems.get(0).contains(" not delivered: TimeoutException: expired"), problems.toString());
    }

    @Test
    void aPartialFailureClaimingMoreThanTheBatchFailsTheWholeBatch() {
        Map<String, Sink> sinks = new LinkedHashMap<>();
        sinks.put("liar", new Sink() {
            @Override
            public void accept(CaptureEvent event) {
            }

            @Override
            public void flush() throws PartialFailure {
                throw new PartialFailure(1_000_000, 1, "more than it was given");
            }
        });
        Dispatcher d = new Dispatcher(sinks, 1024, problems::add);
        for (int n = 1; n <= 10; n++) {
            d.publish(sized(n));
        }
        d.close(10_000);
        assertEquals(List.of(new SinkStats("liar", Count.ZERO, Count.ZERO, new Count(10, 55), Count.ZERO, Map.of())),
                d.stats());
    }
}
