package io.btfagent.sink;

import io.btfagent.sink.Dispatcher.Count;
import io.btfagent.sink.Dispatcher.SinkStats;
import java.util.Map;

/** A sink's counters as one phrase of the {@code capture summary} line. */
public final class SinkSummary {
    private SinkSummary() {
    }

    /**
     * {@code sink jsonl: delivered=5 dropped=1 failed=0 bytes: delivered=900 queue-full=180 (1 event)
     * failed=0 (0 events) exit=0 (0 events); rotations=0; damaged lines=0}
     */
    public static String line(SinkStats s) {
        StringBuilder b = new StringBuilder("sink ").append(s.name()).append(": delivered=")
                .append(s.delivered().events()).append(" dropped=").append(s.dropped()).append(" failed=")
                .append(s.failed().events()).append(" bytes: delivered=").append(s.delivered().bytes());
        reason(b, "queue-full", s.queueFull());
        reason(b, "failed", s.failed());
        reason(b, "exit", s.exit());
        for (Map.Entry<String, Long> e : new java.util.TreeMap<>(s.own()).entrySet()) {
            b.append("; ").append(e.getKey()).append('=').append(e.getValue());
        }
        return b.toString();
    }

    private static void reason(StringBuilder b, String name, Count c) {
        b.append(' ').append(name).append('=').append(c.bytes()).append(" (").append(c.events())
                .append(c.events() == 1 ? " event)" : " events)");
    }
}
