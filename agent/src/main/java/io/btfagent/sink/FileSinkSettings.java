package io.btfagent.sink;

import java.nio.file.Path;
import java.util.List;

/**
 * The settings every file sink has ({@code path}, {@code max-bytes}, {@code keep}: where it
 * writes and how it rotates), declared and read in one place.
 */
public record FileSinkSettings(Path path, long maxBytes, int keep) {
    static final long DEFAULT_MAX_BYTES = 104_857_600;
    static final int DEFAULT_KEEP = 5;

    /** The three settings, with {@code defaultPath} and what the file is ({@code "the pcapng file"}). */
    public static List<SinkSetting> declared(String defaultPath, String file) {
        return List.of(
                new SinkSetting("path", defaultPath, file + " (appended; created 0600)"),
                new SinkSetting("max-bytes", Long.toString(DEFAULT_MAX_BYTES),
                        "size at which the file is rotated; 0 never rotates"),
                new SinkSetting("keep", Integer.toString(DEFAULT_KEEP),
                        "rotated files kept as <path>.1 (newest) … <path>.<keep>"));
    }

    /** The sink's values of the three settings. */
    public static FileSinkSettings of(SinkContext context) {
        return new FileSinkSettings(Path.of(context.get("path")), context.longValue("max-bytes", 0, Long.MAX_VALUE),
                (int) context.longValue("keep", 0, 1000));
    }
}
