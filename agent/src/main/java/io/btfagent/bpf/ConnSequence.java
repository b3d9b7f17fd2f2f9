package io.btfagent.bpf;

import com.sun.jna.Pointer;
import io.btfagent.bpf.internal.LibC;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The kernel's conn counter ({@code conn_seq}, the one slot every probe numbers TLS objects
 * from) mapped into the JVM, so that connections the agent captures in Java (JSSE) draw their
 * ids from the same sequence as native ones: an atomic add on the shared slot, as the probes'
 * {@code __sync_fetch_and_add}, with no system call. On a kernel without fetching atomics the
 * probes cannot add and learn the sum in one step and take an id by inserting it into
 * {@code conn_claims} first; then so does this ({@code claims} given).
 */
public final class ConnSequence implements AutoCloseable {
    private static final VarHandle LONGS = MethodHandles.byteBufferViewVarHandle(long[].class, ByteOrder.nativeOrder());

    private final Pointer mapping;
    private final long length;
    private final ByteBuffer slot;
    private volatile boolean closed;
    /** The probes' claims map when ids are taken by insert, else null. */
    private final BpfMap claims;

    /** How many ids past the last one a claim tries, as the probes' CONN_CLAIM_TRIES. */
    static final int CLAIM_TRIES = 8;

    private ConnSequence(Pointer mapping, long length, BpfMap claims) {
        this.mapping = mapping;
        this.length = length;
        this.claims = claims;
        this.slot = mapping.getByteBuffer(0, 8).order(ByteOrder.nativeOrder());
    }

    /** Maps the mappable one-slot array map {@code fd} (u64 value); {@code claims} as the probes use it, or null. */
    static ConnSequence map(int fd, BpfMap claims) throws BpfException {
        long page = LibC.sysconf(LibC.SC_PAGESIZE);
        Pointer p = LibC.mmap(null, page, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED, fd, 0);
        if (Pointer.nativeValue(p) == -1L) {
            throw new BpfException("mmap conn_seq", com.sun.jna.Native.getLastError(), "");
        }
        return new ConnSequence(p, page, claims);
    }

    /**
     * A new conn id (never 0), or 0 once closed. Called once per connection, never per call: the
     * lock is what makes {@link #close} safe (an application thread never touches the page
     * after it is unmapped, which would crash the JVM).
     */
    public synchronized long next() {
        if (closed) {
            return 0;
        }
        if (claims == null) {
            return (long) LONGS.getAndAdd(slot, 0, 1L) + 1;
        }
        for (int i = 0; i < CLAIM_TRIES; i++) {
            long id = (long) LONGS.getVolatile(slot, 0) + 1 + i;
            if (claims.claim(id)) {
                LONGS.getAndAdd(slot, 0, 1L);
                return id;
            }
        }
        return 0; // as a probe that found no id: the connection goes unnumbered, and is counted
    }

    /** The last id handed out, by the probes or by {@link #next}. */
    public synchronized long last() {
        return closed ? 0 : (long) LONGS.getVolatile(slot, 0);
    }

    /** Stops handing out ids and unmaps the slot. */
    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            LibC.munmap(mapping, length);
        }
    }
}
