package io.btfagent.sink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class JsonlSinkTest {
    @TempDir
    Path dir;

    private final List<String> notices = new ArrayList<>();

    @Test
    void aPartialLastLineFromACrashIsEndedAndCountedAndTheRunStartsOnAFreshLine() throws Exception {
        Path file = dir.resolve("events.jsonl");
        String whole = "{\"n\":1}\n";
        String torn = "{\"ts\":\"2026-11-25T03:40:11.1";
        Files.writeString(file, whole + torn);
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));

        JsonlSink sink = new JsonlSink(file, 0, 0, notices::add);
        sink.accept(Events.sample());
        sink.flush();
        sink.close();

        String json = EventText.json(Events.sample());
        assertEquals(whole + torn + "\n" + json + "\n", Files.readString(file));
        assertEquals(Map.of("damaged lines", 1L, "rotations", 0L), sink.counters());
        assertEquals(List.of(file + " ended in a partial line (a run stopped while writing it); that line is ended"
                + " where it stops and this run starts on a new line (damaged lines: 1)"), notices);
    }

    @Test
    void aFileEndingInANewlineIsAppendedAsIs() throws Exception {
        Path file = dir.resolve("events.jsonl");
        Files.writeString(file, "{\"n\":1}\n");
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
        JsonlSink sink = new JsonlSink(file, 0, 0, notices::add);
        sink.accept(Events.sample());
        sink.close();
        assertEquals("{\"n\":1}\n" + EventText.json(Events.sample()) + "\n", Files.readString(file));
        assertEquals(Map.of("damaged lines", 0L, "rotations", 0L), sink.counters());
        assertEquals(List.of(), notices);
    }

    @Test
    void rotatesByMaxBytesKeepingWholeLinesAndOwnerOnlyFiles() throws Exception {
        Path file = dir.resolve("events.jsonl");
        int lineBytes = EventText.json(Events.numbered(1)).length() + 1;
        JsonlSink sink = new JsonlSink(file, 3L * lineBytes, 2, notices::add);
        for (int i = 1; i <= 7; i++) { // numbered(1..9) render with the same length
            sink.accept(Events.numbered(i));
        }
        sink.flush();
        sink.close();
        assertEquals(List.of(line(7)), Files.readAllLines(file));
        assertEquals(List.of(line(4), line(5), line(6)), Files.readAllLines(dir.resolve("events.jsonl.1")));
        assertEquals(List.of(line(1), line(2), line(3)), Files.readAllLines(dir.resolve("events.jsonl.2")));
        assertEquals(Map.of("damaged lines", 0L, "rotations", 2L), sink.counters());
        for (String name : new String[] {"events.jsonl", "events.jsonl.1", "events.jsonl.2"}) {
            assertEquals("rw-------", PosixFilePermissions.toString(
                    Files.getPosixFilePermissions(dir.resolve(name), LinkOption.NOFOLLOW_LINKS)));
        }
    }

    private static String line(int n) {
        return EventText.json(Events.numbered(n));
    }

    @Test
    void providerDeclaresItsKeysAndRefusesBadValuesInOneLine() {
        JsonlSink.Provider p = new JsonlSink.Provider();
        assertEquals(List.of("path", "max-bytes", "keep", "hold-ms"), p.settings().stream().map(SinkSetting::key).toList());
        assertEquals(List.of("btf-agent-events.jsonl", "104857600", "5", "300000"),
                p.settings().stream().map(SinkSetting::defaultValue).toList());
        IOException e = assertThrows(IOException.class, () -> new JsonlSink(dir, 0, 0, notices::add));
        assertEquals(dir + " is not a regular file; name a regular file", e.getMessage());
    }
}
