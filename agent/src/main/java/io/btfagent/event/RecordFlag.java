package io.btfagent.event;

/**
 * Bits of a record's {@code flags}, as {@code enum capture_flags} in
 * bpf/src/main/bpf/capture_event.h defines them: a constant here is {@code CAPTURE_<NAME>}
 * there with the same value. CaptureHeaderTest compares every value both ways.
 */
public enum RecordFlag {
    /** The call transferred more than capture.max-bytes; the rest was not kept. */
    TRUNCATED(1);

    private final int bit;

    RecordFlag(int bit) {
        this.bit = bit;
    }

    public int bit() {
        return bit;
    }

    public boolean in(int flags) {
        return (flags & bit) != 0;
    }

    /** The enumerator's name in capture_event.h. */
    public String cName() {
        return "CAPTURE_" + name();
    }
}
