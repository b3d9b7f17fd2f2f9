package io.btfagent.sink;

import io.btfagent.config.AgentConfig;
import io.btfagent.event.CaptureEvent;
import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/** Appends one JSON object per line to {@code sink.jsonl.path}. */
public final class JsonlSink implements Sink {
    private final BufferedWriter out;

    public JsonlSink(Path path) throws IOException {
        Path parent = path.toAbsolutePath().getParent();
        if (parent != null) {
            Files.createDirectories(parent);
        }
        out = Files.newBufferedWriter(path, StandardCharsets.UTF_8, StandardOpenOption.CREATE,
                StandardOpenOption.APPEND, StandardOpenOption.WRITE);
    }

    @Override
    public void accept(CaptureEvent event) throws IOException {
        out.write(EventText.json(event));
        out.write('\n');
    }

    @Override
    public void flush() throws IOException {
        out.flush();
    }

    @Override
    public void close() throws IOException {
        out.close();
    }

    /** {@code sinks=jsonl}. */
    public static final class Provider implements SinkProvider {
        @Override
        public String name() {
            return "jsonl";
        }

        @Override
        public Sink create(AgentConfig config) throws IOException {
            return new JsonlSink(Path.of(config.get("sink.jsonl.path")));
        }
    }
}
