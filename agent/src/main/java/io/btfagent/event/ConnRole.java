package io.btfagent.event;

/**
 * Which end of a connection this process is, as {@code enum conn_role} in
 * bpf/src/main/bpf/capture_event.h defines it ({@code ROLE_<NAME>}, same value): written by the
 * agent into the peers map, stamped on records by the probes. CaptureHeaderTest compares the
 * values both ways.
 */
public enum ConnRole {
    UNKNOWN(0, null),
    CLIENT(1, "client"),
    SERVER(2, "server");

    private static final ConnRole[] VALUES = values();

    private final int value;
    private final String label;

    ConnRole(int value, String label) {
        this.value = value;
        this.label = label;
    }

    public int value() {
        return value;
    }

    /** The event's {@code role}: client, server, or null when unknown. */
    public String label() {
        return label;
    }

    public String cName() {
        return "ROLE_" + name();
    }

    /** The role a record's value names; unknown for any other value. */
    public static ConnRole of(int value) {
        for (ConnRole r : VALUES) {
            if (r.value == value) {
                return r;
            }
        }
        return UNKNOWN;
    }
}
