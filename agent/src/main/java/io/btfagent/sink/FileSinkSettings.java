package io.btfagent.sink;

import io.btfagent.files.RotatingFile;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;

/**
 * The settings every file sink has ({@code path}, {@code max-bytes}, {@code keep}: where it
 * writes and how it rotates; {@code hold-ms}: how long events wait while it cannot write),
 * declared and read in one place.
 */
public record FileSinkSettings(Path path, long maxBytes, int keep, long holdMs) {
    static final long DEFAULT_MAX_BYTES = 104_857_600;
    static final int DEFAULT_KEEP = 5;

    /** The settings, with {@code defaultPath} and what the file is ({@code "the pcapng file"}). */
    public static List<SinkSetting> declared(String defaultPath, String file) {
        return List.of(
                new SinkSetting("path", defaultPath, file + " (appended; created 0600)"),
                new SinkSetting("max-bytes", Long.toString(DEFAULT_MAX_BYTES),
                        "size at which the file is rotated; 0 never rotates"),
                new SinkSetting("keep", Integer.toString(DEFAULT_KEEP),
                        "rotated files kept as <path>.1 (newest) … <path>.<keep>"),
                new SinkSetting("hold-ms", Long.toString(Sink.DEFAULT_MAX_HOLD_MS),
                        "while the file cannot be written (disk full, I/O error), events wait this long, then fail"));
    }

    /** The sink's values of the settings. */
    public static FileSinkSettings of(SinkContext context) {
        return new FileSinkSettings(Path.of(context.get("path")), context.longValue("max-bytes", 0, Long.MAX_VALUE),
                (int) context.longValue("keep", 0, 1000), context.longValue("hold-ms", 0, 86_400_000));
    }

    /**
     * Flushes a file sink's file: a write that fails holds the records not written (see
     * {@link RotatingFile#flush}) and becomes a {@link SinkUnavailable}, as does a held record
     * dropped because it waited longer than the file's hold time.
     */
    public static void flush(RotatingFile file) throws SinkUnavailable {
        long expired = file.expiredRecords();
        long expiredBytes = file.expiredWeight();
        IOException cause = null;
        try {
            file.flush();
        } catch (IOException e) {
            cause = e;
        }
        expired = file.expiredRecords() - expired;
        expiredBytes = file.expiredWeight() - expiredBytes;
        if (cause != null) {
            String m = cause.getMessage();
            String why = cause instanceof java.nio.file.FileSystemException f && f.getReason() != null ? f.getReason()
                    : m == null ? cause.getClass().getSimpleName() : m;
            throw new SinkUnavailable(file.heldRecords(), file.heldWeight(), expired, expiredBytes,
                    "cannot write " + file.path() + ": " + why);
        }
        if (expired > 0) {
            throw new SinkUnavailable(0, 0, expired, expiredBytes, "cannot write " + file.path());
        }
    }
}
