package io.btfagent.event;

import java.nio.ByteBuffer;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * Sends each ring record to its library's decoder by the cookie the probe carried (library id
 * above the function id), and the decoded event on to {@code publish}. A library whose BTF was
 * not made for its exact build is guarded by a {@link BuildCheck}: at the first record that
 * fails it, the library is marked refused, that record and every later one of it are dropped
 * (and counted), and {@code onRefused} is told once, so that another thread detaches its probes.
 *
 * <p>Runs on the ring thread: it never blocks, never detaches (each detach waits for a kernel
 * grace period, which would stall every library's records), and a record it cannot decode is
 * counted, not thrown.
 */
public final class RecordRouter implements Consumer<ByteBuffer> {
    /** Library {@code id} failed its check: {@code problem} says how. */
    public record Refusal(int id, String problem) {
    }

    private static final class Route {
        final RecordDecoder decoder;
        final BuildCheck check;
        volatile String refusedBecause;

        Route(RecordDecoder decoder, BuildCheck check) {
            this.decoder = decoder;
            this.check = check;
        }
    }

    private final RecordLayout layout;
    private final Consumer<CaptureEvent> publish;
    private final Consumer<EventView> publishView;
    /** The one view every record is decoded into, when events are published as views. */
    private final EventView view = new EventView();
    private final Consumer<String> firstFailure;
    private final Consumer<Refusal> onRefused;
    private final Map<Integer, Route> routes = new ConcurrentHashMap<>();
    private final AtomicLong undecodable = new AtomicLong();
    private volatile java.util.function.LongConsumer onLinker = ts -> { };
    private final AtomicLong refusedRecords = new AtomicLong();

    /**
     * {@code firstFailure} hears, once, why the first undecodable record was dropped (the
     * count says how many followed); {@code onRefused} hears of each refused library, on the
     * ring thread, and must only hand it on.
     */
    public RecordRouter(RecordLayout layout, Consumer<CaptureEvent> publish, Consumer<String> firstFailure,
            Consumer<Refusal> onRefused) {
        this(layout, publish, null, firstFailure, onRefused);
    }

    private RecordRouter(RecordLayout layout, Consumer<CaptureEvent> publish, Consumer<EventView> publishView,
            Consumer<String> firstFailure, Consumer<Refusal> onRefused) {
        this.layout = layout;
        this.publish = publish;
        this.publishView = publishView;
        this.firstFailure = firstFailure;
        this.onRefused = onRefused;
    }

    /**
     * A router that decodes every record into one reused {@link EventView} and hands that on:
     * nothing is allocated per record. {@code publish} must be done with the view when it
     * returns (copy what it keeps).
     */
    public static RecordRouter ofViews(RecordLayout layout, Consumer<EventView> publish, Consumer<String> firstFailure,
            Consumer<Refusal> onRefused) {
        return new RecordRouter(layout, null, publish, firstFailure, onRefused);
    }

    /**
     * COOKIE_LINKER_MAPPED of capture_event.h: a record of the dynamic linker's probe (the
     * process mapped or unmapped libraries), which no library has (ids start at 1).
     */
    public static final int LINKER_COOKIE = 0;

    /** Hears, on the ring thread, the kernel time of each dynamic linker report; must only hand it on. */
    public void onLinker(java.util.function.LongConsumer listener) {
        this.onLinker = listener;
    }

    /** What a probe tells the program: the library in the upper bits, the function (enum capture_func) below. */
    public static long cookie(int libraryId, String function) {
        return ((long) libraryId << 8) | CaptureFunction.bySymbol(function).map(CaptureFunction::id).orElseThrow(
                () -> new IllegalArgumentException("no probe for " + function + " in enum capture_func"));
    }

    /**
     * Routes records of library {@code id} to {@code decoder}; {@code check} (may be null) must
     * pass for each. Set before the library's probes can fire.
     */
    public void add(int id, RecordDecoder decoder, BuildCheck check) {
        routes.put(id, new Route(decoder, check));
    }

    public void remove(int id) {
        routes.remove(id);
    }

    /** Why library {@code id} was refused, if it was. */
    public Optional<String> refusal(int id) {
        Route r = routes.get(id);
        return r == null ? Optional.empty() : Optional.ofNullable(r.refusedBecause);
    }

    /** Called on the ring thread for every record of every library. */
    @Override
    public void accept(ByteBuffer record) {
        accept(record, 0, record.limit());
    }

    /**
     * {@link #accept(ByteBuffer)} of the record of {@code size} bytes at {@code at} in
     * {@code area} (the ring's mapped data, read in place: no buffer is made per record).
     */
    public void accept(ByteBuffer area, int at, int size) {
        try {
            int cookie = area.getInt(at + layout.cookie());
            if (cookie == LINKER_COOKIE) {
                onLinker.accept(area.getLong(at + layout.tsNs()));
                return;
            }
            Route r = routes.get(cookie >>> 8);
            if (r == null) {
                throw new IllegalArgumentException("record of no hooked library (cookie "
                        + Integer.toHexString(cookie) + ")");
            }
            if (r.check != null && !passes(r, area, at)) {
                return;
            }
            if (publishView != null) {
                r.decoder.decodeInto(area, at, size, view);
                publishView.accept(view);
            } else {
                ByteBuffer record = at == 0 && size == area.limit() ? area
                        : area.slice(at, size).order(java.nio.ByteOrder.LITTLE_ENDIAN);
                publish.accept(r.decoder.decode(record));
            }
        } catch (RuntimeException e) {
            if (undecodable.incrementAndGet() == 1) {
                firstFailure.accept(e.getMessage());
            }
        }
    }

    private boolean passes(Route r, ByteBuffer area, int at) {
        if (r.refusedBecause != null) {
            refusedRecords.incrementAndGet();
            return false;
        }
        Optional<String> problem = r.check.problem(area, at);
        if (problem.isEmpty()) {
            return true;
        }
        r.refusedBecause = problem.get();
        refusedRecords.incrementAndGet();
        onRefused.accept(new Refusal(area.getInt(at + layout.cookie()) >>> 8, problem.get()));
        return false;
    }

    /** Records dropped because they could not be decoded or belonged to no library. */
    public long undecodable() {
        return undecodable.get();
    }

    /** Records of guarded libraries dropped because their check failed (at that record or before). */
    public long refusedRecords() {
        return refusedRecords.get();
    }
}
