package io.btfagent.event;

/**
 * One record of captured plaintext, as sinks receive it (DESIGN contract 2.3). A call larger
 * than one record becomes several events with the same {@code ssl} and {@code tid} and
 * increasing {@code offset}. {@code fd} is null when unknown, -1 for a memory BIO;
 * {@code local}/{@code remote} are null unless known.
 *
 * @param epochNanos wall-clock time of the call's return, nanoseconds since the epoch
 * @param len bytes the call transferred
 * @param offset where {@code data} starts within the call
 * @param truncated the call transferred more than capture.max-bytes
 * @param data the captured bytes of this record (owned by the event; sinks must not modify it)
 * @param redacted some of {@code data} was masked (credentials; lengths unchanged)
 */
public record CaptureEvent(long epochNanos, int pid, int tid, String thread, String lib, String libVersion,
        String libPath, String func, String dir, long ssl, Integer fd, String local, String remote, long len,
        long offset, int captured, boolean truncated, byte[] data, boolean redacted) {

    /** An event nothing was masked in. */
    public CaptureEvent(long epochNanos, int pid, int tid, String thread, String lib, String libVersion,
            String libPath, String func, String dir, long ssl, Integer fd, String local, String remote, long len,
            long offset, int captured, boolean truncated, byte[] data) {
        this(epochNanos, pid, tid, thread, lib, libVersion, libPath, func, dir, ssl, fd, local, remote, len, offset,
                captured, truncated, data, false);
    }

    /** This event with {@code data} replaced by a masked copy of the same length. */
    public CaptureEvent redactedAs(byte[] masked) {
        if (masked.length != data.length) {
            throw new IllegalArgumentException("masking must keep the length: " + masked.length + " != " + data.length);
        }
        return new CaptureEvent(epochNanos, pid, tid, thread, lib, libVersion, libPath, func, dir, ssl, fd, local,
                remote, len, offset, captured, truncated, masked, true);
    }

    public boolean egress() {
        return "egress".equals(dir);
    }
}
