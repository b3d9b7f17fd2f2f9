package io.btfagent.files;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.Arrays;

/**
 * Reads a whole input file (kernel BTF, a user's BTF, the config file) only when it is a
 * regular file no larger than a bound that fits its kind, checking its header before the
 * buffer for the rest is allocated. A FIFO would block the open, a device or a file that grows
 * would be read without end: each is refused before or while reading. Every refusal is an
 * {@link IOException} whose message is one line that starts with the kind and the file and
 * names its size and the bound; a file that cannot be opened gives the JDK's own exception.
 */
public final class BoundedFile {
    /** Checks the first bytes of a file; returns the length they declare, or -1 if they declare none. */
    @FunctionalInterface
    public interface Header {
        long declaredLength(byte[] head) throws IOException;
    }

    private BoundedFile() {
    }

    /** {@code path}'s bytes, refused when it is not a regular file or holds more than {@code bound} bytes. */
    public static byte[] read(Path path, long bound, String kind) throws IOException {
        return read(path, bound, kind, 0, null);
    }

    /**
     * As {@link #read(Path, long, String)}; the first {@code headLength} bytes are read alone
     * and given to {@code header}, which refuses what is not of this kind (its message follows
     * the file's name) or says how long the file must be.
     */
    public static byte[] read(Path path, long bound, String kind, int headLength, Header header) throws IOException {
        return read(path, bound, kind, headLength, header, true);
    }

    /** Checks {@code path} as {@link #read(Path, long, String, int, Header)} does, reading only its header. */
    public static void check(Path path, long bound, String kind, int headLength, Header header) throws IOException {
        read(path, bound, kind, headLength, header, false);
    }

    private static byte[] read(Path path, long bound, String kind, int headLength, Header header, boolean whole)
            throws IOException {
        long size = regularSize(path, kind);
        if (size > bound) {
            throw new IOException(kind + " " + path + " is " + size + " bytes, more than the bound of " + bound
                    + " bytes");
        }
        try (InputStream in = Files.newInputStream(path)) {
            byte[] head = in.readNBytes(headLength);
            long declared = -1;
            if (header != null) {
                if (head.length < headLength) {
                    throw new IOException(kind + " " + path + " is " + head.length + " bytes, too short for its header");
                }
                try {
                    declared = header.declaredLength(head);
                } catch (IOException e) {
                    throw new IOException(kind + " " + path + " " + e.getMessage(), e);
                }
                if (declared > bound) {
                    throw new IOException(kind + " " + path + " declares " + declared + " bytes, more than the bound of "
                            + bound + " bytes");
                }
            }
            if (!whole) {
                return head;
            }
            if (declared >= 0) {
                // what the header declares and no more: bytes appended behind it are never read
                long want = Math.max(declared, head.length);
                // a short file claiming much costs no buffer of the claim: grow as bytes come
                byte[] buf = Arrays.copyOf(head, (int) Math.min(want, Math.max(size, head.length)));
                int at = head.length;
                while (at < want) {
                    if (at == buf.length) {
                        buf = Arrays.copyOf(buf, (int) Math.min(want, Math.max(buf.length * 2L, 4096)));
                    }
                    int n = in.read(buf, at, buf.length - at);
                    if (n < 0) {
                        break; // shorter than declared: the parser names it truncated
                    }
                    at += n;
                }
                return at == buf.length ? buf : Arrays.copyOf(buf, at);
            }
            // the size from stat may be stale (a growing file): read at most one byte past the bound
            byte[] buf = Arrays.copyOf(head, (int) Math.min(Math.max(size, head.length), bound) + 1);
            int at = head.length;
            while (true) {
                if (at == buf.length) {
                    if (buf.length > bound) {
                        throw new IOException(kind + " " + path + " grew past the bound of " + bound
                                + " bytes while it was read");
                    }
                    buf = Arrays.copyOf(buf, (int) Math.min((long) buf.length * 2, bound + 1));
                }
                int n = in.read(buf, at, buf.length - at);
                if (n < 0) {
                    break;
                }
                at += n;
            }
            return at == buf.length ? buf : Arrays.copyOf(buf, at);
        }
    }

    /**
     * The size of {@code path} (links followed), refused unless it is a regular file: a FIFO,
     * a socket or a device is named by its kind in the message.
     */
    public static long regularSize(Path path, String kind) throws IOException {
        BasicFileAttributes a = Files.readAttributes(path, BasicFileAttributes.class);
        if (!a.isRegularFile()) {
            throw new IOException(kind + " " + path + " is " + typeOf(path, a) + ", not a regular file");
        }
        return a.size();
    }

    /** "a directory", "a FIFO", "a character device", ... for a message. */
    public static String typeOf(Path path, BasicFileAttributes a) {
        if (a.isDirectory()) {
            return "a directory";
        }
        if (a.isRegularFile()) {
            return "a regular file";
        }
        try {
            int mode = (Integer) Files.getAttribute(path, "unix:mode");
            switch (mode & 0170000) {
                case 0010000: return "a FIFO";
                case 0020000: return "a character device";
                case 0060000: return "a block device";
                case 0140000: return "a socket";
                default: break;
            }
        } catch (IOException | RuntimeException e) {
            // fall through to the generic word
        }
        return "a special file";
    }
}
