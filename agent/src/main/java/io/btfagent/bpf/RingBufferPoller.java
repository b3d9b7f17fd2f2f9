package io.btfagent.bpf;

import io.btfagent.bpf.internal.LibC;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * Drains ring buffers on one thread. The programs submit records without a wakeup until 1/32 of
 * the ring waits (a wakeup per record would cost each TLS call a context switch), then with one
 * per record: each costs the writing call an interrupt until this thread has run. So while
 * records flow the thread polls every {@value #BUSY_WAIT_MS} ms, soon enough that a steady flow
 * of small calls never reaches that mark; after a poll that found nothing it waits
 * {@value #WAIT_MS} ms. It is woken early when the ring fills up, or by {@link #stop()}.
 */
public final class RingBufferPoller implements AutoCloseable {
    private static final int WAIT_MS = 20;
    private static final int BUSY_WAIT_MS = 2;

    /** A ring and what to do with its records. */
    private record Source(RingBuffer ring, RingBuffer.RecordAtHandler handler) {
    }

    private final int epfd;
    private final int wakeFd; // an eventfd in the epoll set: stop() wakes the wait at once
    private final List<Source> sources = new CopyOnWriteArrayList<>();
    private volatile boolean running = true;

    public RingBufferPoller() throws BpfException {
        epfd = LibC.epoll_create1(LibC.EPOLL_CLOEXEC);
        if (epfd < 0) {
            throw new BpfException("epoll_create1", com.sun.jna.Native.getLastError(), "");
        }
        wakeFd = LibC.eventfd(0, LibC.EFD_CLOEXEC | LibC.EFD_NONBLOCK);
        if (wakeFd < 0 || LibC.epoll_ctl(epfd, LibC.EPOLL_CTL_ADD, wakeFd, readable()) != 0) {
            int errno = com.sun.jna.Native.getLastError();
            LibC.close(epfd);
            throw new BpfException("eventfd", errno, "");
        }
    }

    private static byte[] readable() {
        byte[] ev = new byte[12]; // struct epoll_event is packed on x86_64: u32 events, u64 data
        ev[0] = (byte) LibC.EPOLLIN;
        return ev;
    }

    public void add(RingBuffer ring, RingBuffer.RecordHandler handler) throws BpfException {
        addInPlace(ring, (area, at, size) -> handler.onRecord(area.slice(at, size).order(java.nio.ByteOrder.LITTLE_ENDIAN)));
    }

    /** {@link #add}, with each record handed over in place (nothing made per record). */
    public void addInPlace(RingBuffer ring, RingBuffer.RecordAtHandler handler) throws BpfException {
        if (LibC.epoll_ctl(epfd, LibC.EPOLL_CTL_ADD, ring.fd(), readable()) != 0) {
            throw new BpfException("epoll_ctl(ring buffer)", com.sun.jna.Native.getLastError(), "");
        }
        sources.add(new Source(ring, handler));
    }

    /** Runs until {@link #stop()}; then drains what is left once more. */
    public void run() {
        byte[] events = new byte[12 * 8];
        int wait = WAIT_MS;
        while (running) {
            LibC.epoll_wait(epfd, events, 8, wait);
            wait = drainAll() > 0 ? BUSY_WAIT_MS : WAIT_MS;
        }
        drainAll();
    }

    /** Consumes every complete record of every ring; returns how many. */
    public int drainAll() {
        int n = 0;
        for (int i = 0; i < sources.size(); i++) { // no iterator per drain
            Source s = sources.get(i);
            n += s.ring().consume(s.handler());
        }
        return n;
    }

    public void stop() {
        running = false;
        com.sun.jna.Memory one = new com.sun.jna.Memory(8);
        one.setLong(0, 1);
        LibC.write(wakeFd, one, 8);
    }

    @Override
    public void close() {
        stop();
        LibC.close(epfd);
        LibC.close(wakeFd);
    }
}
