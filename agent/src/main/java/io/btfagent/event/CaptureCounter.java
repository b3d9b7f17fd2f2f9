package io.btfagent.event;

import java.util.Locale;

/**
 * The kernel side's per-CPU counters, as {@code enum capture_counter} in
 * bpf/src/main/bpf/capture_event.h defines them: a constant here is {@code COUNTER_<NAME>}
 * there with the same value (its index in the {@code counters} map), and {@code COUNTER_MAX}
 * is the number of constants. CaptureHeaderTest compares every value both ways.
 */
public enum CaptureCounter {
    CALLS(0, "calls"),
    RECORDS(1, "records"),
    RECORDS_LOST(2, "records lost (ring full)"),
    BYTES_LOST(3, "bytes lost (ring full)"),
    CALLS_TRUNCATED(4, "calls truncated"),
    BYTES_TRUNCATED(5, "bytes truncated"),
    READ_FAULTS(6, "bytes unreadable"),
    ENTRY_MISSED(7, "returns without entry"),
    QUIC_SKIPPED(8, "QUIC objects skipped"),
    CONNS(9, "connections"),
    CONNS_UNNUMBERED(10, "records without conn");

    private final int index;
    private final String label;

    CaptureCounter(int index, String label) {
        this.index = index;
        this.label = label;
    }

    /** The value of {@code COUNTER_<name>}: the key in the counters map. */
    public int index() {
        return index;
    }

    /** How the capture summary line names it, for people. */
    public String label() {
        return label;
    }

    /** How the JSON stats line names it, for tools: the C name without its prefix, lower case. */
    public String key() {
        return name().toLowerCase(Locale.ROOT);
    }

    /** The enumerator's name in capture_event.h. */
    public String cName() {
        return "COUNTER_" + name();
    }
}
