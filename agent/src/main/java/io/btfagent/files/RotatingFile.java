package io.btfagent.files;

import java.io.Closeable;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.function.Consumer;

/**
 * A file of whole records, opened with {@link SafeFile}, rotated by size.
 *
 * <p>{@link #append} only buffers; {@link #flush} writes. Each write carries whole records
 * only, so a reader following the file never sees part of a record unless a write itself
 * fails half-way (a full disk, a crash); the next open finds that through {@link Start}.
 *
 * <p>Rotation: before a record that would take the file past {@code maxBytes} (when the file
 * already holds a record; a new file's start, e.g. a header, is not counted against the
 * limit when the rotation is decided) the file is renamed {@code <name>.1}, {@code .1} becomes {@code .2},
 * and so on up to {@code keep}; the oldest beyond {@code keep} is deleted. Renaming keeps the
 * owner-only mode. A record larger than {@code maxBytes} gets a file of its own.
 * {@code maxBytes = 0} never rotates.
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

    private final Path path;
    private final long maxBytes;
    private final int keep;
    private final Start start;
    private final Consumer<String> notices;
    private FileChannel channel;
    private long size;
    private boolean holdsRecord;
    private long rotations;
    /**
     * The buffered records, in native memory: a channel writes a heap buffer by copying it into
     * a native one first, which for a busy sink is a copy of every byte written.
     */
    private ByteBuffer buf = ByteBuffer.allocateDirect(64 * 1024);
    private int buffered;
    /** End offset in {@link #buf} of each buffered record. */
    private int[] ends = new int[256];
    /** Whether a new file starts with the buffered record of the same index. */
    private boolean[] rotateBefore = new boolean[256];
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

    /**
     * Whether a record of {@code len} bytes appended now would start a new file (the rotation
     * is decided when a record is appended, so a format can begin that file with what a
     * reader needs, e.g. a stream's handshake).
     */
    public boolean wouldStartNewFile(int len) {
        return maxBytes > 0 && projectedHolds && projected + len > maxBytes;
    }

    /** Buffers one whole record; nothing is written until {@link #flush}. */
    public void append(byte[] record, int off, int len) {
        if (buffered + len > buf.capacity()) {
            ByteBuffer larger = ByteBuffer.allocateDirect(Math.max(buf.capacity() * 2, buffered + len));
            larger.put(0, buf, 0, buffered);
            buf = larger;
        }
        buf.put(buffered, record, off, len);
        buffered += len;
        if (records == ends.length) {
            ends = Arrays.copyOf(ends, records * 2);
            rotateBefore = Arrays.copyOf(rotateBefore, records * 2);
        }
        rotateBefore[records] = wouldStartNewFile(len);
        if (rotateBefore[records]) {
            projected = 0; // the next file's start (a header) is not counted
        }
        projected += len;
        projectedHolds = true;
        ends[records++] = buffered;
    }

    public void append(byte[] record) {
        append(record, 0, record.length);
    }

    /**
     * Writes the buffered records, rotating where needed. On failure the buffered records are
     * discarded and the file is reopened at the next flush (whose {@link Start} sees any torn
     * end).
     */
    public void flush() throws IOException {
        int from = 0;
        try {
            if (channel == null) {
                open();
            }
            for (int i = 0; i < records; i++) {
                int recStart = i == 0 ? 0 : ends[i - 1];
                if (rotateBefore[i]) {
                    write(from, recStart);
                    from = recStart;
                    rotate();
                }
            }
            write(from, buffered);
        } catch (IOException e) {
            closeQuietly();
            throw e;
        } finally {
            buffered = 0;
            records = 0;
            projected = size;
            projectedHolds = holdsRecord;
            if (buf.capacity() > 1 << 20) {
                buf = ByteBuffer.allocateDirect(64 * 1024); // give back what one large batch took
            }
        }
    }

    private void write(int from, int to) throws IOException {
        if (to <= from) {
            return;
        }
        ByteBuffer bb = buf.duplicate().limit(to).position(from);
        while (bb.hasRemaining()) {
            channel.write(bb);
        }
        size += to - from;
        holdsRecord = true;
    }

    private void open() throws IOException {
        FileChannel ch = SafeFile.openAppend(path, notices);
        try {
            long existing = ch.size();
            byte[] first = start.begin(path, existing);
            ByteBuffer bb = ByteBuffer.wrap(first);
            while (bb.hasRemaining()) {
                ch.write(bb);
            }
            channel = ch;
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

    private void rotate() throws IOException {
        channel.close();
        channel = null;
        Path dir = path.getParent();
        String name = path.getFileName().toString();
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
        rotations++;
        open();
    }

    /** Times the file was rotated in this run. */
    public long rotations() {
        return rotations;
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
