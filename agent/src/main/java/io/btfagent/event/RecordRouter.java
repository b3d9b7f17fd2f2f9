package io.btfagent.event;

import io.btfagent.tls.TlsLibrary;
import java.nio.ByteBuffer;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * Sends each ring record to its library's decoder by the cookie the probe carried (library id
 * above the function id), past the library's guard when its BTF was not made for its exact
 * build, and the decoded event on to {@code publish}. Runs on the ring thread: it must never
 * block, and a record it cannot decode is counted, not thrown.
 */
public final class RecordRouter implements Consumer<ByteBuffer> {
    /** Decides whether a guarded library's record may be reported (see {@link BuildCheck}). */
    public interface Guard {
        boolean passes(ByteBuffer record);
    }

    private record Route(RecordDecoder decoder, Guard guard) {
    }

    private final RecordLayout layout;
    private final Consumer<CaptureEvent> publish;
    private final Consumer<String> firstFailure;
    private final Map<Integer, Route> routes = new ConcurrentHashMap<>();
    private final AtomicLong undecodable = new AtomicLong();

    /**
     * {@code firstFailure} hears, once, why the first undecodable record was dropped (the
     * count says how many followed).
     */
    public RecordRouter(RecordLayout layout, Consumer<CaptureEvent> publish, Consumer<String> firstFailure) {
        this.layout = layout;
        this.publish = publish;
        this.firstFailure = firstFailure;
    }

    /** What a probe tells the program: the library in the upper bits, the function (enum capture_func) below. */
    public static long cookie(int libraryId, String function) {
        return ((long) libraryId << 8) | TlsLibrary.functionId(function);
    }

    /** Routes records of library {@code id} to {@code decoder}; {@code guard} may be null. Set before its probes fire. */
    public void add(int id, RecordDecoder decoder, Guard guard) {
        routes.put(id, new Route(decoder, guard));
    }

    public void remove(int id) {
        routes.remove(id);
    }

    /** Called on the ring thread for every record of every library. */
    @Override
    public void accept(ByteBuffer record) {
        try {
            Route r = routes.get(record.getInt(layout.cookie()) >>> 8);
            if (r == null) {
                throw new IllegalArgumentException("record of no hooked library (cookie "
                        + Integer.toHexString(record.getInt(layout.cookie())) + ")");
            }
            if (r.guard() == null || r.guard().passes(record)) {
                publish.accept(r.decoder().decode(record));
            }
        } catch (RuntimeException e) {
            if (undecodable.incrementAndGet() == 1) {
                firstFailure.accept(e.getMessage());
            }
        }
    }

    /** Records dropped because they could not be decoded or belonged to no library. */
    public long undecodable() {
        return undecodable.get();
    }
}
