package io.btfagent.it;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The events of a JSONL sink file, parsed with a small reader of JSON objects (strings, numbers,
 * booleans, nested objects), which is all the event schema and the agent's stats line use.
 */
final class CapturedEvents {
    /** One event line; accessors for the fields the tests check. */
    record Event(Map<String, Object> fields) {
        String str(String k) {
            return (String) fields.get(k);
        }

        long num(String k) {
            Object v = fields.get(k);
            if (v == null) {
                throw new AssertionError("event has no field " + k + ": " + fields);
            }
            return (Long) v;
        }

        boolean bool(String k) {
            return (Boolean) fields.get(k);
        }

        /** The decoded HTTP/2 header list's lines ({@code headers}), empty when there is none. */
        @SuppressWarnings("unchecked")
        List<String> headers() {
            Object h = fields.get("headers");
            return h == null ? List.of() : (List<String>) h;
        }

        byte[] data() {
            return Base64.getDecoder().decode(str("data"));
        }

        boolean egress() {
            return "egress".equals(str("dir"));
        }
    }

    private CapturedEvents() {
    }

    static List<Event> read(Path jsonl) throws IOException {
        List<Event> out = new ArrayList<>();
        if (!Files.exists(jsonl)) {
            return out;
        }
        for (String line : Files.readAllLines(jsonl)) {
            if (!line.isBlank()) {
                out.add(new Event(parseObject(line)));
            }
        }
        return out;
    }

    /** Concatenation of the data of the events in one direction, in file order. */
    static byte[] stream(List<Event> events, boolean egress) {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        for (Event e : events) {
            if (e.egress() == egress) {
                b.writeBytes(e.data());
            }
        }
        return b.toByteArray();
    }

    static Map<String, Object> parseObject(String s) {
        return parseObject(s, new int[] {skip(s, 0)});
    }

    private static Map<String, Object> parseObject(String s, int[] pos) {
        Map<String, Object> m = new LinkedHashMap<>();
        expect(s, pos, '{');
        if (s.charAt(skip(s, pos[0])) == '}') {
            pos[0] = skip(s, pos[0]) + 1;
            return m;
        }
        while (true) {
            pos[0] = skip(s, pos[0]);
            String key = string(s, pos);
            pos[0] = skip(s, pos[0]);
            expect(s, pos, ':');
            pos[0] = skip(s, pos[0]);
            m.put(key, value(s, pos));
            pos[0] = skip(s, pos[0]);
            char c = s.charAt(pos[0]++);
            if (c == '}') {
                return m;
            }
            if (c != ',') {
                throw new IllegalArgumentException("bad JSON at " + (pos[0] - 1) + ": " + s);
            }
        }
    }

    private static Object value(String s, int[] pos) {
        char c = s.charAt(pos[0]);
        if (c == '"') {
            return string(s, pos);
        }
        if (c == '{') {
            return parseObject(s, pos);
        }
        if (c == '[') {
            List<Object> list = new ArrayList<>();
            pos[0] = skip(s, pos[0] + 1);
            while (s.charAt(pos[0]) != ']') {
                list.add(value(s, pos));
                pos[0] = skip(s, pos[0]);
                if (s.charAt(pos[0]) == ',') {
                    pos[0] = skip(s, pos[0] + 1);
                }
            }
            pos[0]++;
            return list;
        }
        if (s.startsWith("true", pos[0])) {
            pos[0] += 4;
            return Boolean.TRUE;
        }
        if (s.startsWith("false", pos[0])) {
            pos[0] += 5;
            return Boolean.FALSE;
        }
        int start = pos[0];
        while (pos[0] < s.length() && "-0123456789".indexOf(s.charAt(pos[0])) >= 0) {
            pos[0]++;
        }
        if (start == pos[0]) {
            throw new IllegalArgumentException("unsupported JSON value at " + start + ": " + s);
        }
        return Long.parseLong(s.substring(start, pos[0]));
    }

    private static String string(String s, int[] pos) {
        expect(s, pos, '"');
        StringBuilder b = new StringBuilder();
        while (true) {
            char c = s.charAt(pos[0]++);
            if (c == '"') {
                return b.toString();
            }
            if (c != '\\') {
                b.append(c);
                continue;
            }
            char e = s.charAt(pos[0]++);
            switch (e) {
                case 'n': b.append('\n'); break;
                case 'r': b.append('\r'); break;
                case 't': b.append('\t'); break;
                case 'u': b.append((char) Integer.parseInt(s.substring(pos[0], pos[0] + 4), 16)); pos[0] += 4; break;
                default: b.append(e);
            }
        }
    }

    private static void expect(String s, int[] pos, char c) {
        if (s.charAt(pos[0]) != c) {
            throw new IllegalArgumentException("expected '" + c + "' at " + pos[0] + ": " + s);
        }
        pos[0]++;
    }

    private static int skip(String s, int i) {
        while (i < s.length() && Character.isWhitespace(s.charAt(i))) {
            i++;
        }
        return i;
    }
}
