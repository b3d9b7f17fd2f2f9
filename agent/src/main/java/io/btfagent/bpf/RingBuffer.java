package io.btfagent.bpf;

import com.sun.jna.Pointer;
import io.btfagent.bpf.internal.LibC;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * A BPF ring buffer map read directly through its memory mapping: no native call per record.
 *
 * <p>Layout (kernel/bpf/ringbuf.c): page 0 holds the consumer position, which we own and
 * publish with release semantics; page 1 holds the producer position, read with acquire
 * semantics; the data area follows and is mapped twice in a row, so a record that wraps the
 * end is contiguous. Each record starts with an 8-byte header whose first word is its length,
 * with a busy bit while the producer still writes it and a discard bit if it was abandoned.
 */
public final class RingBuffer implements AutoCloseable {
    private static final VarHandle LONGS = MethodHandles.byteBufferViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle INTS = MethodHandles.byteBufferViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);
    private static final int BUSY_BIT = 1 << 31;
    private static final int DISCARD_BIT = 1 << 30;
    private static final int HEADER = 8;

    /** Receives each record's payload; the buffer is valid only during the call. */
    @FunctionalInterface
    public interface RecordHandler {
        void onRecord(ByteBuffer payload);
    }

    /**
     * Receives each record in place: {@code size} bytes at {@code at} in the mapped data area
     * (little-endian), valid only during the call. No buffer is made per record.
     */
    @FunctionalInterface
    public interface RecordAtHandler {
        void onRecord(ByteBuffer area, int at, int size);
    }

    private static final int BPF_MAP_TYPE_RINGBUF = 27;

    private final int mapFd;
    private final boolean ownsFd;
    private final long pageSize;
    private final long dataSize;
    private final long mask;
    private final Pointer consumerMap;
    private final Pointer producerMap;
    private final ByteBuffer consumer;
    private final ByteBuffer producer;
    private final ByteBuffer data;
    private boolean closed;

    private RingBuffer(int mapFd, boolean ownsFd, long pageSize, long dataSize, Pointer consumerMap,
            Pointer producerMap) {
        this.mapFd = mapFd;
        this.ownsFd = ownsFd;
        this.pageSize = pageSize;
        this.dataSize = dataSize;
        this.mask = dataSize - 1;
        this.consumerMap = consumerMap;
        this.producerMap = producerMap;
        this.consumer = consumerMap.getByteBuffer(0, pageSize).order(ByteOrder.LITTLE_ENDIAN);
        this.producer = producerMap.getByteBuffer(0, pageSize).order(ByteOrder.LITTLE_ENDIAN);
        this.data = producerMap.getByteBuffer(pageSize, 2 * dataSize).order(ByteOrder.LITTLE_ENDIAN);
    }

    /**
     * Creates a ring buffer map of {@code dataSize} bytes (a power of two, page multiple) that
     * this object owns, for objects to share with {@link BpfObject#reuseMap}.
     */
    public static RingBuffer create(String name, int dataSize) throws BpfException {
        int fd = BpfException.check("bpf_map_create(ringbuf " + name + ")",
                io.btfagent.bpf.internal.Libbpf.bpf_map_create(BPF_MAP_TYPE_RINGBUF, name, 0, 0, dataSize, null));
        try {
            return map(fd, true, dataSize);
        } catch (BpfException e) {
            LibC.close(fd);
            throw e;
        }
    }

    /** Maps the ring buffer map {@code mapFd} of {@code dataSize} bytes (its max_entries). */
    public static RingBuffer map(int mapFd, long dataSize) throws BpfException {
        return map(mapFd, false, dataSize);
    }

    private static RingBuffer map(int mapFd, boolean ownsFd, long dataSize) throws BpfException {
        long page = LibC.sysconf(LibC.SC_PAGESIZE);
        Pointer cons = LibC.mmap(null, page, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED, mapFd, 0);
        if (Pointer.nativeValue(cons) == -1L) {
            throw new BpfException("mmap ring buffer consumer page", com.sun.jna.Native.getLastError(), "");
        }
        Pointer prod = LibC.mmap(null, page + 2 * dataSize, LibC.PROT_READ, LibC.MAP_SHARED, mapFd, page);
        if (Pointer.nativeValue(prod) == -1L) {
            int errno = com.sun.jna.Native.getLastError();
            LibC.munmap(cons, page);
            throw new BpfException("mmap ring buffer data", errno, "");
        }
        return new RingBuffer(mapFd, ownsFd, page, dataSize, cons, prod);
    }

    public int fd() {
        return mapFd;
    }

    /** Bytes written by the producer and not yet consumed. */
    public long pending() {
        return (long) LONGS.getAcquire(producer, 0) - (long) LONGS.getAcquire(consumer, 0);
    }

    /**
     * Hands every complete record to {@code handler} and releases its space. Stops at the first
     * record still being written. Returns the number of records consumed (discarded ones
     * included). Only one thread may consume.
     */
    public int consume(RecordHandler handler) {
        return consume((area, at, size) -> handler.onRecord(area.slice(at, size).order(ByteOrder.LITTLE_ENDIAN)));
    }

    /** {@link #consume(RecordHandler)}, handing each record over in place. */
    public synchronized int consume(RecordAtHandler handler) {
        if (closed) {
            return 0;
        }
        long cons = (long) LONGS.getAcquire(consumer, 0);
        long prod = (long) LONGS.getAcquire(producer, 0);
        int n = 0;
        while (cons < prod) {
            int at = (int) (cons & mask);
            int len = (int) INTS.getAcquire(data, at);
            if ((len & BUSY_BIT) != 0) {
                break;
            }
            int size = len & ~(BUSY_BIT | DISCARD_BIT);
            if ((len & DISCARD_BIT) == 0) {
                try {
                    handler.onRecord(data, at + HEADER, size);
                } finally {
                    cons += (size + HEADER + 7) & ~7L;
                    LONGS.setRelease(consumer, 0, cons);
                }
            } else {
                cons += (size + HEADER + 7) & ~7L;
                LONGS.setRelease(consumer, 0, cons);
            }
            n++;
            if (cons >= prod) {
                prod = (long) LONGS.getAcquire(producer, 0);
            }
        }
        return n;
    }

    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            LibC.munmap(consumerMap, pageSize);
            LibC.munmap(producerMap, pageSize + 2 * dataSize);
            if (ownsFd) {
                LibC.close(mapFd);
            }
        }
    }
}
