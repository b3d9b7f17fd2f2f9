package io.btfagent.files;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Arrays;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * A file of whole records, opened with {@link SafeFile}, rotated by size.
 *
 * <p>{@link #append} only buffers; {@link #flush} writes. Each write carries whole records
 * only, and a file never keeps part of one: when a write fails half-way (a full disk, an I/O
 * error) the file is cut back to its last whole record at once, the records written stay
 * written, and the others stay buffered ("held") for the next flush, which writes them whole.
 * Held records that waited longer than {@link #holdAtMost} are dropped (and counted) instead.
 * A torn end found when a file is opened (a JVM killed while writing) goes to {@link Start}.
 *
 * <p>Rotation: before a record that would take the file past {@code maxBytes} (when the file
 * already holds a record; a new file's start, e.g. a header, is not counted against the
 * limit when the rotation is decided) the file is renamed {@code <name>.1}, {@code .1} becomes {@code .2},
 * and so on up to {@code keep}; the oldest beyond {@code keep} is deleted. Renaming keeps the
 * owner-only mode. A record larger than {@code maxBytes} gets a file of its own.
 * {@code maxBytes = 0} never rotates.
 *
 * <p>Moved files: when the path no longer names the file being written (another program, such
 * as logrotate, renamed or deleted it), a new file is started at the path, opened the same
 * way, and said once.
 */
public final class RotatingFile implements Closeable {

    /** What a file format writes when a file is opened (a header, or a repair of a torn end). */
    public interface Start {
        /**
         * @param file the file just opened
         * @param size its length before anything of this run was written (0 when new)
         * @return bytes to write before the first record (may be empty)
         */
        byte[] begin(Path file, long size) throws IOException;
    }

    /** What happens before a buffered record: nothing, a rotation, or a new file at the path. */
    private static final byte SAME_FILE = 0;
    private static final byte ROTATE = 1;
    /** After a rotation's renames: a new file at the path. */
    private static final byte OPEN_NEW = 2;
    /** The path was renamed or deleted by another program: say so, and a new file at the path. */
    private static final byte MOVED = 3;

    /** How often {@link #append} looks whether the path still names the file being written. */
    static final long MOVED_CHECK_NANOS = TimeUnit.MILLISECONDS.toNanos(200);

    private final Path path;
    private final long maxBytes;
    private final int keep;
    private final Start start;
    private final Consumer<String> notices;
    private FileChannel channel;
    /** The file's length up to its last whole record written (or its start). */
    private long size;
    private boolean holdsRecord;
    private long rotations;
    private long moves;
    private long tornWrites;
    /** The identity (device, inode) of the file being written; null before the first open. */
    private Object fileKey;
    /** Set when the path was found to name another file, or none. */
    private boolean moved;
    private long lastMovedCheck;
    /**
     * Set when a failed write could not be cut back and the channel was closed: a reopen of the
     * same file cuts it back to {@link #size} (its torn end is ours, not an earlier run's).
     */
    private boolean resume;
    /** {@link System#nanoTime()} when the records held now were first held; 0 when none are. */
    private long heldSince;
    private long maxHoldNanos = Long.MAX_VALUE;
    private long expiredRecords;
    private long expiredWeight;
    /**
     * The buffered records, in native memory: a channel writes a heap buffer by copying it into
     * a native one first, which for a busy sink is a copy of every byte written.
     */
    private ByteBuffer buf = ByteBuffer.allocateDirect(64 * 1024);
    private int buffered;
    /** End offset in {@link #buf} of each buffered record. */
    private int[] ends = new int[256];
    /** What happens before the buffered record of the same index ({@link #SAME_FILE}, ...). */
    private byte[] before = new byte[256];
    /** What each buffered record counts for (its events' captured bytes). */
    private long[] weights = new long[256];
    private int records;
    /** Size the file being filled will have once the buffered records are written. */
    private long projected;
    private boolean projectedHolds;

    public RotatingFile(Path path, long maxBytes, int keep, Start start, Consumer<String> notices) throws IOException {
        if (maxBytes < 0 || keep < 0) {
            throw new IllegalArgumentException("maxBytes and keep must be >= 0");
        }
        this.path = path.toAbsolutePath().normalize();
        this.maxBytes = maxBytes;
        this.keep = keep;
        this.start = start;
        this.notices = notices;
        open();
    }

    /** Held records that waited longer than {@code millis} are dropped at the next flush (counted). */
    public void holdAtMost(long millis) {
        maxHoldNanos = TimeUnit.MILLISECONDS.toNanos(millis);
    }

    /**
     * Whether a record of {@code len} bytes appended now would start a new file (the rotation
     * is decided when a record is appended, so a format can begin that file with what a
     * reader needs, e.g. a stream's handshake).
     */
    public boolean wouldStartNewFile(int len) {
        checkMoved();
        return moved || rotates(len);
    }

    private boolean rotates(int len) {
        return maxBytes > 0 && projectedHolds && projected + len > maxBytes;
    }

    /** Buffers one whole record; nothing is written until {@link #flush}. */
    public void append(byte[] record, int off, int len) {
        append(record, off, len, 0);
    }

    /**
     * Buffers one whole record that counts for {@code weight} (e.g. its events' captured
     * bytes, summed in {@link #heldWeight()}).
     */
    public void append(byte[] record, int off, int len, long weight) {
        checkMoved();
        if (buffered + len > buf.capacity()) {
            ByteBuffer larger = ByteBuffer.allocateDirect(Math.max(buf.capacity() * 2, buffered + len));
            larger.put(0, buf, 0, buffered);
            buf = larger;
        }
        buf.put(buffered, record, off, len);
        buffered += len;
        if (records == ends.length) {
            ends = Arrays.copyOf(ends, records * 2);
            before = Arrays.copyOf(before, records * 2);
            weights = Arrays.copyOf(weights, records * 2);
        }
        // another program's rename goes first: a rotation would rename the file it put there
        before[records] = moved ? MOVED : rotates(len) ? ROTATE : SAME_FILE;
        moved = false;
        if (before[records] != SAME_FILE) {
            projected = 0; // the next file's start (a header) is not counted
        }
        projected += len;
        projectedHolds = true;
        weights[records] = weight;
        ends[records++] = buffered;
    }

    public void append(byte[] record) {
        append(record, 0, record.length);
    }

    /**
     * Writes the buffered records, rotating where needed. When a write fails, the records
     * written stay, the file is cut back to its last whole record, and the rest stay buffered
     * (held) for the next flush; the failure is thrown.
     */
    public void flush() throws IOException {
        if (heldSince != 0 && records > 0 && System.nanoTime() - heldSince > maxHoldNanos) {
            expireHeld();
        }
        int written = 0;
        lastWhole = 0;
        try {
            if (channel == null && (records == 0 || before[0] == SAME_FILE)) {
                open();
            }
            int from = 0;
            for (int i = 0; i < records; i++) {
                if (before[i] != SAME_FILE) {
                    written = writeRecords(from, i);
                    from = i;
                    startNewFile(i);
                }
            }
            written = writeRecords(from, records);
        } catch (IOException e) {
            written = Math.max(written, lastWhole);
            keepFrom(written);
            if (heldSince == 0) {
                heldSince = System.nanoTime();
            }
            throw e;
        }
        buffered = 0;
        records = 0;
        heldSince = 0;
        projected = size;
        projectedHolds = holdsRecord;
        if (buf.capacity() > 1 << 20) {
            buf = ByteBuffer.allocateDirect(64 * 1024); // give back what one large batch took
        }
    }

    /** Records written whole by the last {@link #writeRecords}, even when it failed. */
    private int lastWhole;

    /** Writes records [{@code from}, {@code to}); returns {@code to}. On failure cuts back to the last whole one. */
    private int writeRecords(int from, int to) throws IOException {
        lastWhole = from;
        int start = from == 0 ? 0 : ends[from - 1];
        int end = to == 0 ? 0 : ends[to - 1];
        if (end <= start) {
            lastWhole = to;
            return to;
        }
        if (heldSince != 0) {
            // a try again while records are held: where they cannot all fit, write none, so the
            // file never shows a reader a record that is then cut back
            long free = Files.getFileStore(path).getUsableSpace();
            if (free < end - start) {
                throw new IOException("No space left on device (" + (end - start) + " bytes to write, " + free
                        + " free)");
            }
        }
        ByteBuffer bb = buf.duplicate().limit(end).position(start);
        try {
            while (bb.hasRemaining()) {
                channel.write(bb);
            }
        } catch (IOException e) {
            int whole = from;
            while (whole < to && ends[whole] <= bb.position()) {
                whole++;
            }
            if (whole > from) {
                size += ends[whole - 1] - start;
                holdsRecord = true;
            }
            lastWhole = whole;
            if (bb.position() > (whole == 0 ? 0 : ends[whole - 1]) && bb.position() > start) {
                tornWrites++; // part of a record reached the file
            }
            cutBack();
            throw e;
        }
        size += end - start;
        holdsRecord = true;
        lastWhole = to;
        return to;
    }

    /** Cuts a torn record off the file's end; if even that fails, the next open of this file does. */
    private void cutBack() {
        try {
            if (channel.size() > size) {
                channel.truncate(size);
            }
        } catch (IOException e) {
            closeQuietly();
            resume = true;
        }
    }

    /** Drops the first {@code n} buffered records (written). */
    private void keepFrom(int n) {
        if (n > 0) {
            int cut = ends[n - 1];
            byte[] rest = new byte[buffered - cut];
            buf.get(cut, rest);
            buf.put(0, rest);
            buffered -= cut;
            records -= n;
            for (int i = 0; i < records; i++) {
                ends[i] = ends[i + n] - cut;
                before[i] = before[i + n];
                weights[i] = weights[i + n];
            }
        }
        projected = size + buffered;
        projectedHolds = holdsRecord || records > 0;
    }

    /** Drops every held record, counting them; a new file they were to start is still started. */
    private void expireHeld() {
        boolean anyMoved = false;
        for (int i = 0; i < records; i++) {
            expiredWeight += weights[i];
            anyMoved |= before[i] == MOVED; // after OPEN_NEW the channel is closed: the next flush opens anew
        }
        expiredRecords += records;
        moved |= anyMoved;
        buffered = 0;
        records = 0;
        heldSince = 0;
        projected = size;
        projectedHolds = holdsRecord;
    }

    /** Before record {@code i}: a rotation, or a new file where another program moved ours. */
    private void startNewFile(int i) throws IOException {
        if (before[i] == ROTATE) {
            closeQuietly();
            renameAway();
            rotations++;
            before[i] = OPEN_NEW; // renamed: a retry only opens
        }
        if (before[i] == MOVED) {
            closeQuietly();
            moves++;
            notices.accept(path + " was renamed or deleted by another program (a log rotation?); what was written"
                    + " before went with it, and a new " + path.getFileName() + " is started (moves so far: " + moves + ")");
            before[i] = OPEN_NEW;
        }
        open();
        before[i] = SAME_FILE;
    }

    private void open() throws IOException {
        FileChannel ch = SafeFile.openAppend(path, notices);
        try {
            long existing = ch.size();
            Object key = keyOf(path);
            byte[] first;
            if (resume && key != null && key.equals(fileKey)) {
                // the file this run was writing when a write failed half-way: cut back to its
                // last whole record (the torn end is this run's, not an earlier one's)
                if (existing > size) {
                    ch.truncate(size);
                    existing = size;
                }
                first = new byte[0];
            } else {
                first = start.begin(path, existing);
            }
            ByteBuffer bb = ByteBuffer.wrap(first);
            try {
                while (bb.hasRemaining()) {
                    ch.write(bb);
                }
            } catch (IOException e) {
                ch.truncate(existing); // no torn start either
                throw e;
            }
            channel = ch;
            fileKey = key;
            resume = false;
            lastMovedCheck = System.nanoTime();
            size = existing + first.length;
            holdsRecord = existing > 0;
            if (records == 0) {
                projected = size;
                projectedHolds = holdsRecord;
            }
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    /** Whether the path still names the file being written, looked at most every {@link #MOVED_CHECK_NANOS}. */
    private void checkMoved() {
        if (moved || fileKey == null) {
            return;
        }
        long now = System.nanoTime();
        if (now - lastMovedCheck < MOVED_CHECK_NANOS) {
            return;
        }
        lastMovedCheck = now;
        if (!fileKey.equals(keyOf(path))) {
            moved = true;
        }
    }

    /** The file's identity (device and inode), or null if there is none at the path. */
    private static Object keyOf(Path p) {
        try {
            return Files.readAttributes(p, BasicFileAttributes.class, LinkOption.NOFOLLOW_LINKS).fileKey();
        } catch (IOException e) {
            return null;
        }
    }

    /** The rotation's renames (or deletion, keep=0); the file at the path is left alone unless it is ours. */
    private void renameAway() throws IOException {
        Path dir = path.getParent();
        String name = path.getFileName().toString();
        if (fileKey != null && !fileKey.equals(keyOf(path))) {
            return; // someone else moved or replaced it meanwhile: nothing of ours to rename
        }
        // links are moved or deleted as links, never followed
        if (keep > 0) {
            Files.deleteIfExists(dir.resolve(name + "." + keep));
        }
        for (int i = keep - 1; i >= 1; i--) {
            Path older = dir.resolve(name + "." + i);
            if (Files.exists(older, LinkOption.NOFOLLOW_LINKS)) {
                Files.move(older, dir.resolve(name + "." + (i + 1)));
            }
        }
        if (keep > 0) {
            Files.move(path, dir.resolve(name + ".1"));
        } else {
            Files.delete(path);
        }
    }

    /** Times the file was rotated in this run. */
    public long rotations() {
        return rotations;
    }

    /** Times another program renamed or deleted the file and a new one was started. */
    public long moves() {
        return moves;
    }

    /** Writes that stopped inside a record, whose part was cut off the file again. */
    public long tornWrites() {
        return tornWrites;
    }

    /** Records buffered and not yet written (held after a failed write, or appended since). */
    public int heldRecords() {
        return records;
    }

    /** Their weights, summed. */
    public long heldWeight() {
        long w = 0;
        for (int i = 0; i < records; i++) {
            w += weights[i];
        }
        return w;
    }

    /** Held records dropped so far because they waited longer than {@link #holdAtMost}. */
    public long expiredRecords() {
        return expiredRecords;
    }

    /** Their weights, summed. */
    public long expiredWeight() {
        return expiredWeight;
    }

    public Path path() {
        return path;
    }

    private void closeQuietly() {
        if (channel != null) {
            try {
                channel.close();
            } catch (IOException ignored) {
                // already failing
            }
            channel = null;
        }
    }

    @Override
    public void close() throws IOException {
        try {
            flush();
        } finally {
            closeQuietly();
        }
    }
}
