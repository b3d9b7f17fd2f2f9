package io.btfagent.sink;

import io.btfagent.event.CaptureEvent;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Base64;

/** The two renderings of an event: a JSON object (contract 2.3) and a human-readable line. */
public final class EventText {
    private static final DateTimeFormatter TS =
            DateTimeFormatter.ofPattern("yyyy-MM-dd'T'HH:mm:ss.SSSSSSSSS'Z'").withZone(ZoneOffset.UTC);

    private EventText() {
    }

    static String timestamp(long epochNanos) {
        return TS.format(Instant.ofEpochSecond(Math.floorDiv(epochNanos, 1_000_000_000L),
                Math.floorMod(epochNanos, 1_000_000_000L)));
    }

    /** One JSON object, no trailing newline, fields in the contract's order. */
    public static String json(CaptureEvent e) {
        return jsonHead(e, 256 + e.captured() * 4 / 3).append(Base64.getEncoder().encodeToString(e.data()))
                .append("\"}").toString();
    }

    /**
     * {@link #json} and a newline, as UTF-8 bytes, built with fewer copies of the data (the
     * jsonl sink's hot path).
     */
    public static byte[] jsonLine(CaptureEvent e) {
        byte[] head = jsonHead(e, 320).toString().getBytes(java.nio.charset.StandardCharsets.UTF_8);
        byte[] b64 = Base64.getEncoder().encode(e.data());
        byte[] out = new byte[head.length + b64.length + 3];
        System.arraycopy(head, 0, out, 0, head.length);
        System.arraycopy(b64, 0, out, head.length, b64.length);
        out[out.length - 3] = '"';
        out[out.length - 2] = '}';
        out[out.length - 1] = '\n';
        return out;
    }

    /** Everything before the data's base64, up to and including {@code "data":"}. */
    private static StringBuilder jsonHead(CaptureEvent e, int capacity) {
        StringBuilder b = new StringBuilder(capacity);
        b.append("{\"ts\":\"").append(timestamp(e.epochNanos())).append('"');
        b.append(",\"pid\":").append(e.pid());
        b.append(",\"tid\":").append(e.tid());
        b.append(",\"thread\":"); string(b, e.thread());
        b.append(",\"lib\":"); string(b, e.lib());
        b.append(",\"libVersion\":"); string(b, e.libVersion());
        b.append(",\"libPath\":"); string(b, e.libPath());
        b.append(",\"func\":\"").append(e.func()).append('"');
        b.append(",\"dir\":\"").append(e.dir()).append('"');
        b.append(",\"ssl\":\"0x").append(Long.toHexString(e.ssl())).append('"');
        if (e.conn() != 0) {
            b.append(",\"conn\":").append(e.conn());
        }
        if (e.role() != null) {
            b.append(",\"role\":\"").append(e.role()).append('"');
        }
        if (e.fd() != null) {
            b.append(",\"fd\":").append(e.fd());
        }
        if (e.local() != null) {
            b.append(",\"local\":"); string(b, e.local());
        }
        if (e.remote() != null) {
            b.append(",\"remote\":"); string(b, e.remote());
        }
        b.append(",\"len\":").append(e.len());
        b.append(",\"offset\":").append(e.offset());
        b.append(",\"captured\":").append(e.captured());
        b.append(",\"truncated\":").append(e.truncated());
        if (e.redacted()) {
            b.append(",\"redacted\":true");
        }
        if (e.headers() != null) {
            b.append(",\"headers\":[");
            String[] lines = e.headers().split("\n");
            for (int i = 0; i < lines.length; i++) {
                b.append(i > 0 ? "," : "");
                string(b, lines[i]);
            }
            b.append(']');
        }
        return b.append(",\"data\":\"");
    }

    /** The same facts on one line, with the bytes shown as escaped text. */
    public static String line(CaptureEvent e) {
        StringBuilder b = new StringBuilder(160 + e.captured());
        b.append(e.lib()).append(' ').append(e.libVersion()).append(' ').append(e.func()).append(' ').append(e.dir());
        b.append(" pid=").append(e.pid()).append(" tid=").append(e.tid()).append(" thread=");
        escaped(b, e.thread().getBytes(java.nio.charset.StandardCharsets.UTF_8));
        b.append(" ssl=0x").append(Long.toHexString(e.ssl()));
        if (e.conn() != 0) {
            b.append(" conn=").append(e.conn());
        }
        if (e.role() != null) {
            b.append(" role=").append(e.role());
        }
        if (e.fd() != null) {
            b.append(" fd=").append(e.fd());
        }
        if (e.local() != null) {
            b.append(" local=");
            escaped(b, e.local().getBytes(java.nio.charset.StandardCharsets.UTF_8));
        }
        if (e.remote() != null) {
            b.append(" remote=");
            escaped(b, e.remote().getBytes(java.nio.charset.StandardCharsets.UTF_8));
        }
        b.append(" len=").append(e.len()).append(" offset=").append(e.offset()).append(" captured=").append(e.captured());
        if (e.truncated()) {
            b.append(" truncated");
        }
        if (e.redacted()) {
            b.append(" redacted");
        }
        if (e.headers() != null) {
            b.append(" headers=\"");
            escaped(b, headerList(e.headers()).getBytes(java.nio.charset.StandardCharsets.ISO_8859_1));
            b.append('"');
        }
        b.append(" data=\"");
        escaped(b, e.data());
        return b.append('"').toString();
    }

    /**
     * The decoded HTTP/2 header list on one line: each block as {@code [stream 1 HEADERS]}
     * followed by its fields, {@code name: value}, separated by {@code " | "}.
     */
    static String headerList(String lines) {
        StringBuilder b = new StringBuilder(lines.length() + 16);
        for (String line : lines.split("\n")) {
            if (line.startsWith("#")) {
                if (b.length() > 0) {
                    b.append(' ');
                }
                b.append('[').append(line, 1, line.length()).append(']');
            } else {
                b.append(b.length() == 0 || b.charAt(b.length() - 1) == ']' ? " " : " | ").append(line);
            }
        }
        return b.toString().trim();
    }

    /** Bytes as printable ASCII; anything else escaped, so a line is always one line. */
    private static void escaped(StringBuilder b, byte[] bytes) {
        for (byte x : bytes) {
            int c = x & 0xff;
            switch (c) {
                case '\r': b.append("\\r"); break;
                case '\n': b.append("\\n"); break;
                case '\t': b.append("\\t"); break;
                case '"': b.append("\\\""); break;
                case '\\': b.append("\\\\"); break;
                default:
                    if (c >= 0x20 && c < 0x7f) {
                        b.append((char) c);
                    } else {
                        b.append(String.format("\\x%02x", c));
                    }
            }
        }
    }

    private static void string(StringBuilder b, String s) {
        b.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"': b.append("\\\""); break;
                case '\\': b.append("\\\\"); break;
                case '\n': b.append("\\n"); break;
                case '\r': b.append("\\r"); break;
                case '\t': b.append("\\t"); break;
                default:
                    if (c < 0x20) {
                        b.append(String.format("\\u%04x", (int) c));
                    } else {
                        b.append(c);
                    }
            }
        }
        b.append('"');
    }
}
