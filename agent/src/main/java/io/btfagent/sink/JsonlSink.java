package io.btfagent.sink;

import io.btfagent.event.CaptureEvent;
import io.btfagent.event.EventView;
import io.btfagent.files.RotatingFile;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.SeekableByteChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * Appends one JSON object per line to {@code sink.jsonl.path}: an owner-only file (see
 * {@link io.btfagent.files.SafeFile}), rotated by size, written in whole lines. A write that
 * fails (a full disk) leaves no partial line: the file is cut back and the lines not written
 * are held and written whole later (see {@link RotatingFile}). A file whose last line was left
 * partial by an earlier run (a JVM killed mid-write) gets a newline first, so the damaged line
 * stays one line of its own, and is counted.
 */
public final class JsonlSink implements Sink {

    private final RotatingFile file;
    private final Consumer<String> notices;
    private final AtomicLong damaged = new AtomicLong();
    private final AtomicLong rotations = new AtomicLong();
    private final AtomicLong moves = new AtomicLong();
    private final AtomicLong torn = new AtomicLong();

    public JsonlSink(Path path, long maxBytes, int keep, Consumer<String> notices) throws IOException {
        this(path, maxBytes, keep, Sink.DEFAULT_MAX_HOLD_MS, notices);
    }

    /** @param holdMs how long lines wait while the file cannot be written (then they fail) */
    public JsonlSink(Path path, long maxBytes, int keep, long holdMs, Consumer<String> notices) throws IOException {
        this.notices = notices;
        this.file = new RotatingFile(path, maxBytes, keep, this::begin, notices);
        this.file.holdAtMost(holdMs);
        this.holdMs = holdMs;
    }

    private final long holdMs;

    /** Repairs a torn last line: a newline ends it, so the next line starts whole. */
    private byte[] begin(Path path, long size) throws IOException {
        if (size == 0) {
            return new byte[0];
        }
        ByteBuffer last = ByteBuffer.allocate(1);
        try (SeekableByteChannel ch = Files.newByteChannel(path, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS)) {
            ch.position(size - 1);
            ch.read(last);
        }
        if (last.get(0) == '\n') {
            return new byte[0];
        }
        long n = damaged.incrementAndGet();
        notices.accept(path + " ended in a partial line (a run stopped while writing it); that line is ended"
                + " where it stops and this run starts on a new line (damaged lines: " + n + ")");
        return new byte[] {'\n'};
    }

    private final EventJson json = new EventJson();
    private byte[] line = new byte[16 * 1024];
    private final EventView copy = new EventView();

    @Override
    public void accept(CaptureEvent event) {
        accept(copy.of(event));
    }

    /** Encodes straight into a reused buffer: nothing is allocated per event. */
    @Override
    public void accept(EventView event) {
        int max = EventJson.maxLength(event);
        if (line.length < max) {
            line = new byte[Math.max(max, 2 * line.length)];
        }
        file.append(line, 0, json.writeLine(event, line, 0), event.dataLength());
    }

    @Override
    public void flush() throws SinkUnavailable {
        try {
            FileSinkSettings.flush(file);
        } finally {
            rotations.set(file.rotations());
            moves.set(file.moves());
            torn.set(file.tornWrites());
        }
    }

    @Override
    public long maxHoldMillis() {
        return holdMs;
    }

    @Override
    public void close() throws IOException {
        file.close();
    }

    @Override
    public Map<String, Long> counters() {
        Map<String, Long> m = new LinkedHashMap<>();
        m.put("damaged lines", damaged.get());
        m.put("rotations", rotations.get());
        if (moves.get() > 0) { // a file another program renamed or deleted
            m.put("moved away", moves.get());
        }
        if (torn.get() > 0) { // a write stopped inside a record (disk full), and was cut back
            m.put("torn writes undone", torn.get());
        }
        return m;
    }

    /** {@code sinks=jsonl}. */
    public static final class Provider implements SinkProvider {
        @Override
        public String name() {
            return "jsonl";
        }

        @Override
        public List<SinkSetting> settings() {
            return FileSinkSettings.declared("btf-agent-events.jsonl", "the JSON Lines file");
        }

        @Override
        public Sink create(SinkContext context) throws IOException {
            FileSinkSettings f = FileSinkSettings.of(context);
            return new JsonlSink(f.path(), f.maxBytes(), f.keep(), f.holdMs(), context::warn);
        }
    }
}
