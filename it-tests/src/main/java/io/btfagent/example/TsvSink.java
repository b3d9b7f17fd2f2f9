package io.btfagent.example;

import io.btfagent.event.CaptureEvent;
import io.btfagent.sink.Sink;
import io.btfagent.sink.SinkContext;
import io.btfagent.sink.SinkProvider;
import io.btfagent.sink.SinkSetting;
import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicLong;

/**
 * An example of a third-party sink, built as a jar of its own
 * ({@code btf-agent-it-tests-*-example-sink.jar}) and loaded with {@code extensions=}: one
 * tab-separated line per event ({@code dir}, {@code len}, {@code offset}, {@code redacted},
 * base64 of the data) in {@code sink.tsv.path}, which must not exist yet.
 */
public final class TsvSink implements Sink {
    private final BufferedWriter out;
    private final AtomicLong lines = new AtomicLong();

    TsvSink(Path path) throws IOException {
        out = Files.newBufferedWriter(path, StandardCharsets.US_ASCII, StandardOpenOption.CREATE_NEW,
                StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS);
        Files.setPosixFilePermissions(path, PosixFilePermissions.fromString("rw-------"));
    }

    @Override
    public void accept(CaptureEvent e) throws IOException {
        out.write(e.dir() + "\t" + e.len() + "\t" + e.offset() + "\t" + e.redacted() + "\t"
                + Base64.getEncoder().encodeToString(e.data()) + "\n");
        lines.incrementAndGet();
    }

    @Override
    public void flush() throws IOException {
        out.flush();
    }

    @Override
    public void close() throws IOException {
        out.close();
    }

    @Override
    public Map<String, Long> counters() {
        return Map.of("lines", lines.get());
    }

    /** {@code sinks=tsv}; listed in {@code META-INF/services/io.btfagent.sink.SinkProvider}. */
    public static final class Provider implements SinkProvider {
        @Override
        public String name() {
            return "tsv";
        }

        @Override
        public List<SinkSetting> settings() {
            return List.of(new SinkSetting("path", null, "the file to create (must not exist)"));
        }

        @Override
        public Sink create(SinkContext context) throws IOException {
            String path = context.get("path");
            if (path == null) {
                throw new IllegalArgumentException("sink.tsv.path is not set; name the file to write");
            }
            return new TsvSink(Path.of(path));
        }
    }
}
