package io.btfagent.files;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class RotatingFileTest {
    @TempDir
    Path dir;

    private final List<String> notices = new ArrayList<>();

    /** A 30-byte record: "record NN" padded with dots, then a newline. */
    private static byte[] rec(int n) {
        String s = String.format("record %02d", n);
        return (s + ".".repeat(29 - s.length()) + "\n").getBytes(StandardCharsets.US_ASCII);
    }

    private static String recs(int from, int to) {
        StringBuilder b = new StringBuilder();
        for (int i = from; i <= to; i++) {
            b.append(new String(rec(i), StandardCharsets.US_ASCII));
        }
        return b.toString();
    }

    private RotatingFile open(Path file, long maxBytes, int keep) throws IOException {
        return new RotatingFile(file, maxBytes, keep, (f, size) -> new byte[0], notices::add);
    }

    private static void write(RotatingFile f, int from, int to) throws IOException {
        for (int i = from; i <= to; i++) {
            f.append(rec(i));
        }
        f.flush();
    }

    @Test
    void rotatesBeforeARecordThatWouldPassTheLimitAndKeepsTheNewestFiles() throws IOException {
        Path file = dir.resolve("events.jsonl");
        try (RotatingFile f = open(file, 100, 2)) {
            write(f, 1, 4); // 3 records fit in 100 bytes; the 4th starts a new file
            assertEquals(recs(1, 3), Files.readString(dir.resolve("events.jsonl.1")));
            assertEquals(recs(4, 4), Files.readString(file));
            write(f, 5, 8);
            write(f, 9, 10);
            assertEquals(3, f.rotations());
        }
        assertEquals(recs(10, 10), Files.readString(file));
        assertEquals(recs(7, 9), Files.readString(dir.resolve("events.jsonl.1")));
        assertEquals(recs(4, 6), Files.readString(dir.resolve("events.jsonl.2")));
        assertFalse(Files.exists(dir.resolve("events.jsonl.3")), "records 1-3 went with the oldest file");
        for (String name : new String[] {"events.jsonl", "events.jsonl.1", "events.jsonl.2"}) {
            assertEquals("rw-------", SafeFileTest.mode(dir.resolve(name)), name);
        }
        assertEquals(List.of(), notices);
    }

    @Test
    void aRecordThatReachesTheLimitExactlyStaysAndTheNextRotates() throws IOException {
        Path file = dir.resolve("e");
        try (RotatingFile f = open(file, 90, 1)) {
            write(f, 1, 3);
            assertEquals(0, f.rotations());
            assertEquals(90, Files.size(file));
            write(f, 4, 4);
            assertEquals(1, f.rotations());
        }
        assertEquals(recs(1, 3), Files.readString(dir.resolve("e.1")));
        assertEquals(recs(4, 4), Files.readString(file));
    }

    @Test
    void aRecordLargerThanTheLimitGetsAFileOfItsOwn() throws IOException {
        Path file = dir.resolve("e");
        try (RotatingFile f = open(file, 40, 3)) {
            f.append(rec(1));
            byte[] big = ("x".repeat(99) + "\n").getBytes(StandardCharsets.US_ASCII);
            f.append(big);
            f.append(rec(2));
            f.flush();
            assertEquals(2, f.rotations());
        }
        assertEquals(recs(1, 1), Files.readString(dir.resolve("e.2")));
        assertEquals("x".repeat(99) + "\n", Files.readString(dir.resolve("e.1")));
        assertEquals(recs(2, 2), Files.readString(file));
    }

    @Test
    void keepZeroDeletesAndMaxBytesZeroNeverRotates() throws IOException {
        Path a = dir.resolve("a");
        try (RotatingFile f = open(a, 60, 0)) {
            write(f, 1, 3);
            assertEquals(1, f.rotations());
        }
        assertEquals(recs(3, 3), Files.readString(a));
        assertFalse(Files.exists(dir.resolve("a.1")));

        Path b = dir.resolve("b");
        try (RotatingFile f = open(b, 0, 5)) {
            write(f, 1, 50);
            assertEquals(0, f.rotations());
        }
        assertEquals(recs(1, 50), Files.readString(b));
    }

    @Test
    void anExistingFileAlreadyPastTheLimitIsRotatedBeforeTheFirstRecord() throws IOException {
        Path file = dir.resolve("e");
        Files.writeString(file, recs(1, 5));
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
        try (RotatingFile f = open(file, 100, 1)) {
            write(f, 6, 6);
        }
        assertEquals(recs(1, 5), Files.readString(dir.resolve("e.1")));
        assertEquals(recs(6, 6), Files.readString(file));
    }

    @Test
    void nothingIsWrittenBeforeFlush() throws IOException {
        Path file = dir.resolve("e");
        try (RotatingFile f = open(file, 0, 0)) {
            f.append(rec(1));
            f.append(rec(2));
            assertEquals(0, Files.size(file), "a reader sees no record before the flush that writes it whole");
            f.flush();
            assertEquals(recs(1, 2), Files.readString(file));
        }
    }

    @Test
    void aFileStartIsWrittenAtEveryOpen() throws IOException {
        Path file = dir.resolve("e");
        List<Long> sizes = new ArrayList<>();
        try (RotatingFile f = new RotatingFile(file, 70, 1, (p, size) -> {
            sizes.add(size);
            return "HEADER\n".getBytes(StandardCharsets.US_ASCII);
        }, notices::add)) {
            write(f, 1, 3); // header 7 + 30 + 30 = 67; the third record starts a new file
        }
        assertEquals(List.of(0L, 0L), sizes);
        assertEquals("HEADER\n" + recs(1, 2), Files.readString(dir.resolve("e.1")));
        assertEquals("HEADER\n" + recs(3, 3), Files.readString(file));
    }

    /** Lets the next append look at the path again. */
    private static void pastMovedCheck() throws InterruptedException {
        Thread.sleep(TimeUnit.NANOSECONDS.toMillis(RotatingFile.MOVED_CHECK_NANOS) + 50);
    }

    @Test
    void aFileRenamedByAnotherProgramIsFollowedByANewFileSaidOnce() throws Exception {
        Path file = dir.resolve("events.jsonl");
        try (RotatingFile f = open(file, 0, 0)) {
            write(f, 1, 2);
            Files.move(file, dir.resolve("events.jsonl-20261207")); // logrotate without copytruncate
            pastMovedCheck();
            write(f, 3, 4);
            write(f, 5, 5);
            assertEquals(1, f.moves());
        }
        assertEquals(recs(1, 2), Files.readString(dir.resolve("events.jsonl-20261207")));
        assertEquals(recs(3, 5), Files.readString(file));
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(file)));
        assertEquals(List.of(file + " was renamed or deleted by another program (a log rotation?); what was written"
                + " before went with it, and a new events.jsonl is started (moves so far: 1)"), notices);
    }

    @Test
    void aDeletedFileIsFollowedByANewFile() throws Exception {
        Path file = dir.resolve("events.jsonl");
        try (RotatingFile f = open(file, 0, 0)) {
            write(f, 1, 2);
            Files.delete(file);
            pastMovedCheck();
            write(f, 3, 3);
            assertEquals(1, f.moves());
        }
        assertEquals(recs(3, 3), Files.readString(file));
        assertEquals(1, notices.size(), notices.toString());
    }

    @Test
    void recordsThatCannotBeWrittenAreHeldAndWrittenWholeLater() throws Exception {
        Path file = dir.resolve("events.jsonl");
        try (RotatingFile f = open(file, 0, 0)) {
            write(f, 1, 1);
            Files.delete(file);
            Files.createDirectory(file); // the path cannot be opened as a file now
            pastMovedCheck();
            f.append(rec(2), 0, 30, 2);
            f.append(rec(3), 0, 30, 3);
            assertThrows(IOException.class, f::flush);
            assertEquals(2, f.heldRecords());
            assertEquals(5, f.heldWeight());
            assertThrows(IOException.class, f::flush);
            assertEquals(2, f.heldRecords());
            Files.delete(file);
            f.flush();
            assertEquals(0, f.heldRecords());
            assertEquals(0, f.expiredRecords());
        }
        assertEquals(recs(2, 3), Files.readString(file));
        assertEquals(1, notices.size(), notices.toString());
    }

    @Test
    void heldRecordsOlderThanTheHoldTimeAreDroppedAndCounted() throws Exception {
        Path file = dir.resolve("events.jsonl");
        try (RotatingFile f = open(file, 0, 0)) {
            f.holdAtMost(100);
            Files.delete(file);
            Files.createDirectory(file);
            pastMovedCheck();
            f.append(rec(1), 0, 30, 7);
            assertThrows(IOException.class, f::flush);
            Thread.sleep(150);
            Files.delete(file);
            f.flush(); // record 1 waited too long: dropped, counted
            assertEquals(1, f.expiredRecords());
            assertEquals(7, f.expiredWeight());
            write(f, 2, 2);
        }
        assertEquals(recs(2, 2), Files.readString(file));
    }
}
