package io.btfagent.event;

/**
 * One record of captured plaintext, as sinks receive it (DESIGN contract 2.3). A call larger
 * than one record becomes several events with the same {@code ssl} and {@code tid} and
 * increasing {@code offset}. {@code fd} is null when unknown, -1 for a memory BIO;
 * {@code local}/{@code remote} are null unless known: read from the socket in the kernel, or
 * for a memory BIO, the channel's addresses the instrumented TLS stack reported.
 *
 * @param epochNanos wall-clock time of the call's return, nanoseconds since the epoch
 * @param len bytes the call transferred
 * @param thread the Java thread's name where the agent learned it, else the OS thread name
 * @param conn id of the TLS object, unique for its life in this JVM (a reused pointer gets a new
 *     one); 0 when none could be given
 * @param role {@code client} or {@code server} where the TLS stack reported it, else null
 * @param offset where {@code data} starts within the call
 * @param truncated the call transferred more than capture.max-bytes
 * @param data the captured bytes of this record (owned by the event; sinks must not modify it)
 * @param redacted some of {@code data} was masked (credentials; lengths unchanged)
 * @param headers the HTTP/2 header fields decoded from this record's bytes (masked as the data is),
 *     one {@code name: value} line each, a header block starting with a line
 *     {@code #stream <id> HEADERS}; null when there are none
 */
public record CaptureEvent(long epochNanos, int pid, int tid, String thread, String lib, String libVersion,
        String libPath, String func, String dir, long ssl, long conn, String role, Integer fd, String local,
        String remote, long len, long offset, int captured, boolean truncated, byte[] data, boolean redacted,
        String headers) {

    /** An event without decoded HTTP/2 headers. */
    public CaptureEvent(long epochNanos, int pid, int tid, String thread, String lib, String libVersion,
            String libPath, String func, String dir, long ssl, long conn, String role, Integer fd, String local,
            String remote, long len, long offset, int captured, boolean truncated, byte[] data, boolean redacted) {
        this(epochNanos, pid, tid, thread, lib, libVersion, libPath, func, dir, ssl, conn, role, fd, local, remote,
                len, offset, captured, truncated, data, redacted, null);
    }

    /** An event nothing was masked in. */
    public CaptureEvent(long epochNanos, int pid, int tid, String thread, String lib, String libVersion,
            String libPath, String func, String dir, long ssl, long conn, String role, Integer fd, String local,
            String remote, long len, long offset, int captured, boolean truncated, byte[] data) {
        this(epochNanos, pid, tid, thread, lib, libVersion, libPath, func, dir, ssl, conn, role, fd, local, remote,
                len, offset, captured, truncated, data, false);
    }

    /** This event with {@code data} replaced by a masked copy of the same length. */
    public CaptureEvent redactedAs(byte[] masked) {
        if (masked.length != data.length) {
            throw new IllegalArgumentException("masking must keep the length: " + masked.length + " != " + data.length);
        }
        return new CaptureEvent(epochNanos, pid, tid, thread, lib, libVersion, libPath, func, dir, ssl, conn, role, fd,
                local, remote, len, offset, captured, truncated, masked, true, headers);
    }

    /** An event without connection identity (conn 0, no role). */
    public CaptureEvent(long epochNanos, int pid, int tid, String thread, String lib, String libVersion,
            String libPath, String func, String dir, long ssl, Integer fd, String local, String remote, long len,
            long offset, int captured, boolean truncated, byte[] data) {
        this(epochNanos, pid, tid, thread, lib, libVersion, libPath, func, dir, ssl, 0, null, fd, local, remote, len,
                offset, captured, truncated, data);
    }

    public boolean egress() {
        return "egress".equals(dir);
    }
}
