package io.btfagent.runtime;

import io.btfagent.event.CaptureCounter;
import io.btfagent.jsse.JsseCapture;
import io.btfagent.sink.Dispatcher;
import io.btfagent.sink.SinkSummary;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * The capture's counters at one moment: the kernel side's (summed over every hooked library),
 * the ring reader's, and each sink's. The capture summary line, the periodic warning, the JSON
 * stats line and the tests all read this one value; nothing reads counters back from prose.
 *
 * @param kernel indexed by {@link CaptureCounter#index()}
 * @param undecodable records dropped because they could not be decoded
 * @param refusedRecords records of a library whose BTF failed its check, dropped
 * @param probedOnEmulated hooked functions whose probes went on instructions the kernel emulates
 * @param probedAtEntry hooked functions whose probes stayed on their first instruction
 * @param jsse the JDK's own TLS, captured in Java (also summed into the calls, records,
 *     truncation and connection counters, so that their totals cover every TLS byte)
 */
public record CaptureStats(int hooked, long[] kernel, long undecodable, long refusedRecords,
        List<Dispatcher.SinkStats> sinks, int probedOnEmulated, int probedAtEntry, JsseCapture.Counters jsse) {

    public CaptureStats(int hooked, long[] kernel, long undecodable, long refusedRecords,
            List<Dispatcher.SinkStats> sinks, int probedOnEmulated, int probedAtEntry) {
        this(hooked, kernel, undecodable, refusedRecords, sinks, probedOnEmulated, probedAtEntry,
                JsseCapture.Counters.ZERO);
    }

    public CaptureStats(int hooked, long[] kernel, long undecodable, long refusedRecords,
            List<Dispatcher.SinkStats> sinks) {
        this(hooked, kernel, undecodable, refusedRecords, sinks, 0, 0);
    }

    public CaptureStats {
        if (kernel.length != CaptureCounter.values().length) {
            throw new IllegalArgumentException(kernel.length + " kernel counters, expected "
                    + CaptureCounter.values().length);
        }
        kernel = kernel.clone();
        sinks = List.copyOf(sinks);
    }

    public long get(CaptureCounter c) {
        return kernel[c.index()];
    }

    /** The same counters with other sink figures (the sinks are read after the capture stops). */
    public CaptureStats withSinks(List<Dispatcher.SinkStats> sinkStats) {
        return new CaptureStats(hooked, kernel, undecodable, refusedRecords, sinkStats, probedOnEmulated,
                probedAtEntry, jsse);
    }

    /** The line logged at exit, for people. */
    public String summaryLine() {
        StringBuilder b = new StringBuilder("capture summary:");
        for (CaptureCounter c : CaptureCounter.values()) {
            b.append(' ').append(c.label()).append('=').append(get(c)).append(',');
        }
        // which placement each hooked function got (probe.placement)
        b.append(" functions probed on emulated instructions=").append(probedOnEmulated).append(',');
        b.append(" functions probed at entry=").append(probedAtEntry).append(',');
        b.append(" records undecodable=").append(undecodable).append(',');
        b.append(" records refused (BTF check)=").append(refusedRecords).append(',');
        if (jsse.calls() > 0) {
            b.append(" jsse calls=").append(jsse.calls()).append(", jsse bytes=").append(jsse.bytes()).append(',');
        }
        for (Dispatcher.SinkStats s : sinks) {
            b.append(' ').append(SinkSummary.line(s)).append(',');
        }
        b.setLength(b.length() - 1);
        return b.toString();
    }

    /**
     * One JSON object, for tools: {@code hooked}, each kernel counter by {@link CaptureCounter#key()},
     * {@code records_undecodable}, {@code records_refused}, and {@code sinks} by name with
     * {@code delivered}, {@code dropped}, {@code failed} (events), then events and bytes per
     * outcome ({@code delivered_events}, {@code delivered_bytes}, {@code queue_full_*},
     * {@code failed_*}, {@code exit_*}) and the sink's own counters (spaces as {@code _}).
     */
    public String json() {
        StringBuilder b = new StringBuilder("{\"hooked\":").append(hooked);
        for (CaptureCounter c : CaptureCounter.values()) {
            b.append(",\"").append(c.key()).append("\":").append(get(c));
        }
        b.append(",\"functions_probed_on_emulated\":").append(probedOnEmulated);
        b.append(",\"functions_probed_at_entry\":").append(probedAtEntry);
        b.append(",\"records_undecodable\":").append(undecodable);
        b.append(",\"records_refused\":").append(refusedRecords);
        b.append(",\"jsse\":").append(jsse.json());
        b.append(",\"sinks\":{");
        for (int i = 0; i < sinks.size(); i++) {
            Dispatcher.SinkStats s = sinks.get(i);
            b.append(i == 0 ? "" : ",").append('"').append(jsonEscape(s.name())).append("\":{\"delivered\":")
                    .append(s.delivered().events()).append(",\"dropped\":").append(s.dropped()).append(",\"failed\":")
                    .append(s.failed().events());
            count(b, "delivered", s.delivered());
            count(b, "queue_full", s.queueFull());
            count(b, "failed", s.failed());
            count(b, "exit", s.exit());
            for (Map.Entry<String, Long> own : new TreeMap<>(s.own()).entrySet()) {
                b.append(",\"").append(jsonEscape(own.getKey().replace(' ', '_'))).append("\":").append(own.getValue());
            }
            b.append('}');
        }
        return b.append("}}").toString();
    }

    /** {@code "<name>_events"} and {@code "<name>_bytes"}. */
    private static void count(StringBuilder b, String name, Dispatcher.Count c) {
        b.append(",\"").append(name).append("_events\":").append(c.events());
        b.append(",\"").append(name).append("_bytes\":").append(c.bytes());
    }

    private static String jsonEscape(String s) {
        StringBuilder b = new StringBuilder();
        for (char c : s.toCharArray()) {
            if (c == '"' || c == '\\') {
                b.append('\\').append(c);
            } else if (c < 0x20) {
                b.append(String.format("\\u%04x", (int) c));
            } else {
                b.append(c);
            }
        }
        return b.toString();
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof CaptureStats s && hooked == s.hooked && java.util.Arrays.equals(kernel, s.kernel)
                && undecodable == s.undecodable && refusedRecords == s.refusedRecords && sinks.equals(s.sinks)
                && probedOnEmulated == s.probedOnEmulated && probedAtEntry == s.probedAtEntry && jsse.equals(s.jsse);
    }

    @Override
    public int hashCode() {
        return java.util.Objects.hash(hooked, java.util.Arrays.hashCode(kernel), undecodable, refusedRecords, sinks,
                probedOnEmulated, probedAtEntry, jsse);
    }

    @Override
    public String toString() {
        return json();
    }
}
