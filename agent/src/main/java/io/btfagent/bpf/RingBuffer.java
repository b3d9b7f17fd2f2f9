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
 * semantics; the data area follows, and the kernel offers it twice in a row, so that a record
 * that wraps the end is contiguous. Each record starts with an 8-byte header whose first word is
 * its length, with a busy bit while the producer still writes it and a discard bit if it was
 * abandoned.
 *
 * <p>Only the first copy and the first {@link #WRAP_BYTES} of the second are mapped: the kernel
 * puts every page of a mapping in place when it is made, so the whole second copy would count
 * the ring twice in the process's resident memory. A record that runs past what is mapped (one
 * larger than the capture's records, at the end of the area) is handed over from a copy.
 */
public final class RingBuffer implements AutoCloseable {
    private static final VarHandle LONGS = MethodHandles.byteBufferViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);
    private static final VarHandle INTS = MethodHandles.byteBufferViewVarHandle(int[].class, ByteOrder.LITTLE_ENDIAN);
    private static final int BUSY_BIT = 1 << 31;
    private static final int DISCARD_BIT = 1 << 30;
    private static final int HEADER = 8;
    /**
     * How much of the data area's second copy is mapped: a record that wraps the end and ends
     * within it is read in place. The capture's records are at most 8 KiB of data plus a header.
     */
    static final long WRAP_BYTES = 64 * 1024;

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
    /** Bytes of the producer mapping: the producer page, the data area and the part of its second copy. */
    private final long producerBytes;
    /** A record that runs past the mapping, copied whole (grown as needed; the reader's thread only). */
    private ByteBuffer wrapped = ByteBuffer.allocate(0);
    private boolean closed;

    private RingBuffer(int mapFd, boolean ownsFd, long pageSize, long dataSize, Pointer consumerMap,
            Pointer producerMap, long producerBytes) {
        this.mapFd = mapFd;
        this.ownsFd = ownsFd;
        this.pageSize = pageSize;
        this.dataSize = dataSize;
        this.mask = dataSize - 1;
        this.consumerMap = consumerMap;
        this.producerMap = producerMap;
        this.producerBytes = producerBytes;
        this.consumer = consumerMap.getByteBuffer(0, pageSize).order(ByteOrder.LITTLE_ENDIAN);
        this.producer = producerMap.getByteBuffer(0, pageSize).order(ByteOrder.LITTLE_ENDIAN);
        this.data = producerMap.getByteBuffer(pageSize, producerBytes - pageSize).order(ByteOrder.LITTLE_ENDIAN);
    }

    /** Bytes of the data area's second copy mapped for {@code wanted} (see {@link #WRAP_BYTES}). */
    static long wrapBytes(long dataSize, long wanted, long pageSize) {
        return Math.min(dataSize, (Math.max(0, wanted) + pageSize - 1) / pageSize * pageSize);
    }

    /**
     * Creates a ring buffer map of {@code dataSize} bytes (a power of two, page multiple) that
     * this object owns, for objects to share with {@link BpfObject#reuseMap}.
     */
    public static RingBuffer create(String name, int dataSize) throws BpfException {
        return create(name, dataSize, WRAP_BYTES);
    }

    /**
     * As {@link #create(String, int)}, mapping {@code wrapBytes} of the data area's second copy
     * (rounded up to pages; at most the area): records that run past that are handed over from
     * a copy. For tests of that path.
     */
    public static RingBuffer create(String name, int dataSize, long wrapBytes) throws BpfException {
        int fd = BpfException.check("bpf_map_create(ringbuf " + name + ")",
                io.btfagent.bpf.internal.Libbpf.bpf_map_create(BPF_MAP_TYPE_RINGBUF, name, 0, 0, dataSize, null));
        try {
            return map(fd, true, dataSize, wrapBytes);
        } catch (BpfException e) {
            LibC.close(fd);
            throw e;
        }
    }

    /** Maps the ring buffer map {@code mapFd} of {@code dataSize} bytes (its max_entries). */
    public static RingBuffer map(int mapFd, long dataSize) throws BpfException {
        return map(mapFd, false, dataSize, WRAP_BYTES);
    }

    private static RingBuffer map(int mapFd, boolean ownsFd, long dataSize, long wrapBytes) throws BpfException {
        long page = LibC.sysconf(LibC.SC_PAGESIZE);
        Pointer cons = LibC.mmap(null, page, LibC.PROT_READ | LibC.PROT_WRITE, LibC.MAP_SHARED, mapFd, 0);
        if (Pointer.nativeValue(cons) == -1L) {
            throw new BpfException("mmap ring buffer consumer page", com.sun.jna.Native.getLastError(), "");
        }
        long prodBytes = page + dataSize + wrapBytes(dataSize, wrapBytes, page);
        Pointer prod = LibC.mmap(null, prodBytes, LibC.PROT_READ, LibC.MAP_SHARED, mapFd, page);
        if (Pointer.nativeValue(prod) == -1L) {
            int errno = com.sun.jna.Native.getLastError();
            LibC.munmap(cons, page);
            throw new BpfException("mmap ring buffer data", errno, "");
        }
        return new RingBuffer(mapFd, ownsFd, page, dataSize, cons, prod, prodBytes);
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
                    if (at + HEADER + (long) size <= data.capacity()) {
                        handler.onRecord(data, at + HEADER, size);
                    } else {
                        handler.onRecord(copyOfWrapped(at + HEADER, size), 0, size);
                    }
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

    /**
     * The {@code size} bytes at {@code from} of the data area, which wrap its end by more than
     * the mapping holds: the part before the end, then the rest from the area's start.
     */
    private ByteBuffer copyOfWrapped(int from, int size) {
        if (wrapped.capacity() < size) {
            wrapped = ByteBuffer.allocate(size).order(ByteOrder.LITTLE_ENDIAN);
        }
        int first = (int) Math.max(0, Math.min(size, dataSize - from));
        wrapped.put(0, data, from, first);
        wrapped.put(first, data, (int) ((from + first) & mask), size - first);
        return wrapped;
    }

    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            LibC.munmap(consumerMap, pageSize);
            LibC.munmap(producerMap, producerBytes);
            if (ownsFd) {
                LibC.close(mapFd);
            }
        }
    }
}
