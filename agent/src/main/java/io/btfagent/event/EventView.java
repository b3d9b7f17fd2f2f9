package io.btfagent.event;

/**
 * One captured record on its way from the ring to the sinks, in an object that is filled again
 * for every record: the agent's event path allocates nothing per event (see
 * {@link io.btfagent.sink.Sink#accept(EventView)}). It carries the same facts as a
 * {@link CaptureEvent}; {@link #toEvent()} makes that immutable copy for a sink that keeps
 * events beyond the call.
 *
 * <p>A view is valid only during the call it is handed to: afterwards the agent fills it with
 * another record, and its {@linkplain #array() data} lies in a buffer the agent reuses. A sink
 * must not modify it. Its strings ({@code thread}, {@code lib}, addresses…) are shared,
 * cached instances.
 */
public final class EventView {
    /** The fd {@link #set} is given for a record without one (CaptureEvent's null fd). */
    public static final int NO_FD = Integer.MIN_VALUE;

    private long epochNanos;
    private int pid;
    private int tid;
    private String thread;
    private String lib;
    private String libVersion;
    private String libPath;
    private String func;
    private String dir;
    private long ssl;
    private long conn;
    private String role;
    private int fd;
    private boolean hasFd;
    private String local;
    private String remote;
    private long len;
    private long offset;
    private int captured;
    private boolean truncated;
    private boolean redacted;
    private String headers;
    private byte[] array = new byte[0];
    private int dataOffset;
    private int dataLength;

    public long epochNanos() {
        return epochNanos;
    }

    public int pid() {
        return pid;
    }

    public int tid() {
        return tid;
    }

    public String thread() {
        return thread;
    }

    public String lib() {
        return lib;
    }

    public String libVersion() {
        return libVersion;
    }

    public String libPath() {
        return libPath;
    }

    public String func() {
        return func;
    }

    public String dir() {
        return dir;
    }

    public boolean egress() {
        return "egress".equals(dir);
    }

    public long ssl() {
        return ssl;
    }

    public long conn() {
        return conn;
    }

    public String role() {
        return role;
    }

    /** The fd, -1 for a memory BIO; meaningful only if {@link #hasFd()}. */
    public int fd() {
        return fd;
    }

    /** Whether the fd is known (CaptureEvent's fd is not null). */
    public boolean hasFd() {
        return hasFd;
    }

    public String local() {
        return local;
    }

    public String remote() {
        return remote;
    }

    public long len() {
        return len;
    }

    public long offset() {
        return offset;
    }

    public int captured() {
        return captured;
    }

    public boolean truncated() {
        return truncated;
    }

    public boolean redacted() {
        return redacted;
    }

    /**
     * The HTTP/2 header fields decoded from this record (see {@link CaptureEvent#headers()}),
     * or null.
     */
    public String headers() {
        return headers;
    }

    /** Sets the decoded HTTP/2 header fields of this record. */
    public void headers(String h) {
        this.headers = h;
    }

    /** The buffer the data lies in, from {@link #dataOffset()} for {@link #dataLength()} bytes. */
    public byte[] array() {
        return array;
    }

    public int dataOffset() {
        return dataOffset;
    }

    public int dataLength() {
        return dataLength;
    }

    /** An immutable copy, for a sink that keeps the event. */
    public CaptureEvent toEvent() {
        byte[] data = java.util.Arrays.copyOfRange(array, dataOffset, dataOffset + dataLength);
        return new CaptureEvent(epochNanos, pid, tid, thread, lib, libVersion, libPath, func, dir, ssl, conn, role,
                hasFd ? Integer.valueOf(fd) : null, local, remote, len, offset, captured, truncated, data,
                redacted, headers);
    }

    /** Fills every field but the data from the decoder's values; {@code fd} is {@link #NO_FD} when unknown. */
    public void set(long epochNanos, int pid, int tid, String thread, String lib, String libVersion, String libPath,
            String func, String dir, long ssl, long conn, String role, int fd, String local, String remote, long len,
            long offset, int captured, boolean truncated) {
        this.epochNanos = epochNanos;
        this.pid = pid;
        this.tid = tid;
        this.thread = thread;
        this.lib = lib;
        this.libVersion = libVersion;
        this.libPath = libPath;
        this.func = func;
        this.dir = dir;
        this.ssl = ssl;
        this.conn = conn;
        this.role = role;
        this.fd = fd;
        this.hasFd = fd != NO_FD;
        this.local = local;
        this.remote = remote;
        this.len = len;
        this.offset = offset;
        this.captured = captured;
        this.truncated = truncated;
        this.redacted = false;
        this.headers = null;
    }

    /** Points the data at {@code length} bytes of {@code array} from {@code offset} (not copied). */
    public void data(byte[] array, int offset, int length) {
        this.array = array;
        this.dataOffset = offset;
        this.dataLength = length;
    }

    /** Marks that some of the data was masked. */
    public void markRedacted() {
        this.redacted = true;
    }

    /** Copies every field but the data from {@code o}; the data is set with {@link #data}. */
    public void copyFieldsFrom(EventView o) {
        set(o.epochNanos, o.pid, o.tid, o.thread, o.lib, o.libVersion, o.libPath, o.func, o.dir, o.ssl, o.conn, o.role,
                o.fd, o.local, o.remote, o.len, o.offset, o.captured, o.truncated);
        this.hasFd = o.hasFd;
        this.redacted = o.redacted;
        this.headers = o.headers;
    }

    /** This view showing {@code e} (its data array is shared, not copied). */
    public EventView of(CaptureEvent e) {
        set(e.epochNanos(), e.pid(), e.tid(), e.thread(), e.lib(), e.libVersion(), e.libPath(), e.func(), e.dir(),
                e.ssl(), e.conn(), e.role(), e.fd() == null ? NO_FD : e.fd(), e.local(), e.remote(), e.len(),
                e.offset(), e.captured(), e.truncated());
        this.hasFd = e.fd() != null;
        this.redacted = e.redacted();
        this.headers = e.headers();
        data(e.data(), 0, e.data().length);
        return this;
    }

    /** A new view of {@code e}. */
    public static EventView from(CaptureEvent e) {
        return new EventView().of(e);
    }
}
