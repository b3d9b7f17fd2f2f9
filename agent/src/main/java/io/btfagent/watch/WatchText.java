package io.btfagent.watch;

import io.btfagent.event.EventView;
import java.time.Instant;
import java.time.ZoneId;
import java.time.format.DateTimeFormatter;

/**
 * One event as {@code watch} prints it: a heading line (time, Java thread, conn, role,
 * local → remote, library, function, direction, length) and the data below it, indented:
 * text (an HTTP/1 message) as its lines, the decoded HTTP/2 header list where the agent has
 * one, anything else as a hex dump. With colour, ANSI escapes set the heading apart and tell
 * the directions apart; without, plain text (for a pipe or a file).
 */
public final class WatchText {
    /** Most data bytes shown per event; the rest is counted. */
    static final int MAX_SHOWN = 4096;
    private static final DateTimeFormatter TIME =
            DateTimeFormatter.ofPattern("HH:mm:ss.SSSSSS").withZone(ZoneId.systemDefault());
    private static final String RESET = "\033[0m";
    private static final String BOLD_GREEN = "\033[1;32m";
    private static final String BOLD_CYAN = "\033[1;36m";
    private static final String DIM = "\033[2m";
    private static final char[] HEX = "0123456789abcdef".toCharArray();

    private WatchText() {
    }

    /** Appends the block of {@code e} to {@code b}. */
    public static void block(StringBuilder b, EventView e, boolean colour) {
        boolean out = e.egress();
        if (colour) {
            b.append(out ? BOLD_GREEN : BOLD_CYAN);
        }
        b.append(TIME.format(Instant.ofEpochSecond(0, e.epochNanos()))).append("  ").append(e.thread());
        b.append("  conn ").append(e.conn());
        if (e.role() != null) {
            b.append(' ').append(e.role());
        }
        if (e.local() != null && e.remote() != null) {
            b.append("  ").append(e.local()).append(out ? " → " : " ← ").append(e.remote());
        } else if (e.hasFd()) {
            b.append("  fd ").append(e.fd());
        }
        b.append("  ").append(e.lib());
        if (e.libVersion() != null && !e.libVersion().isEmpty()) {
            b.append(' ').append(e.libVersion());
        }
        b.append(' ').append(e.func()).append(' ').append(e.dir()).append("  ").append(e.len()).append(" B");
        if (e.offset() > 0) {
            b.append(" from ").append(e.offset());
        }
        if (e.truncated()) {
            b.append(" (truncated: ").append(e.captured()).append(" B kept)");
        }
        if (e.redacted()) {
            b.append(" (credentials masked)");
        }
        if (colour) {
            b.append(RESET);
        }
        b.append('\n');
        if (e.headers() != null && !e.headers().isEmpty()) {
            for (String line : e.headers().split("\n")) {
                b.append(line.startsWith("#") ? "  [" + line.substring(1) + "]" : "    " + line).append('\n');
            }
            return;
        }
        byte[] a = e.array();
        int from = e.dataOffset();
        int n = e.dataLength();
        int shown = Math.min(n, MAX_SHOWN);
        if (isText(a, from, shown)) {
            text(b, a, from, shown);
        } else {
            hex(b, a, from, shown, colour);
        }
        if (shown < n) {
            b.append("  … ").append(n - shown).append(" more bytes\n");
        }
    }

    /** Mostly printable ASCII with line breaks and tabs: an HTTP/1 message, JSON, a text protocol. */
    static boolean isText(byte[] a, int from, int n) {
        if (n == 0) {
            return true;
        }
        int odd = 0;
        for (int i = from; i < from + n; i++) {
            int c = a[i] & 0xff;
            if ((c < 0x20 && c != '\r' && c != '\n' && c != '\t') || c == 0x7f) {
                odd++;
            }
        }
        return odd * 20 <= n; // at most 5 % control bytes (UTF-8 text passes: its bytes are >= 0x80)
    }

    private static void text(StringBuilder b, byte[] a, int from, int n) {
        b.append("  ");
        for (int i = from; i < from + n; i++) {
            int c = a[i] & 0xff;
            if (c == '\n') {
                b.append('\n');
                if (i + 1 < from + n) {
                    b.append("  ");
                }
            } else if (c == '\r') {
                continue;
            } else if (c < 0x20 && c != '\t' || c == 0x7f) {
                b.append('.');
            } else {
                b.append((char) c); // ISO-8859-1, as the bytes came
            }
        }
        if (n > 0 && a[from + n - 1] != '\n') {
            b.append('\n');
        }
    }

    private static void hex(StringBuilder b, byte[] a, int from, int n, boolean colour) {
        for (int row = 0; row < n; row += 16) {
            b.append("  ");
            if (colour) {
                b.append(DIM);
            }
            for (int s = 12; s >= 0; s -= 4) {
                b.append(HEX[(row >> s) & 0xf]);
            }
            if (colour) {
                b.append(RESET);
            }
            b.append("  ");
            for (int i = 0; i < 16; i++) {
                if (row + i < n) {
                    int c = a[from + row + i] & 0xff;
                    b.append(HEX[c >> 4]).append(HEX[c & 0xf]).append(' ');
                } else {
                    b.append("   ");
                }
                if (i == 7) {
                    b.append(' ');
                }
            }
            b.append(" |");
            for (int i = 0; i < 16 && row + i < n; i++) {
                int c = a[from + row + i] & 0xff;
                b.append(c >= 0x20 && c < 0x7f ? (char) c : '.');
            }
            b.append("|\n");
        }
    }
}
