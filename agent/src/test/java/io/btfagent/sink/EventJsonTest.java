package io.btfagent.sink;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.btfagent.event.CaptureEvent;
import io.btfagent.event.EventView;
import io.btfagent.redact.Redactor;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;

/** The reused-buffer encoder writes exactly the bytes {@link EventText} makes, for every kind of event. */
class EventJsonTest {

    private static CaptureEvent event(long ts, String thread, long ssl, long conn, String role, Integer fd,
            String local, String remote, long len, long offset, boolean truncated, byte[] data) {
        return new CaptureEvent(ts, 4242, 4250, thread, "openssl", "3.0.22", "/usr/lib/x86_64-linux-gnu/libssl.so.3",
                "SSL_write", "egress", ssl, conn, role, fd, local, remote, len, offset, data.length, truncated, data);
    }

    private static List<CaptureEvent> events() {
        List<CaptureEvent> out = new ArrayList<>();
        out.add(Events.sample());
        for (int n = 0; n < 8; n++) { // every base64 tail
            out.add(Events.numbered(n));
            byte[] d = new byte[n];
            Arrays.fill(d, (byte) (0xf0 + n));
            out.add(event(Events.TS + n, "t", n, 0, null, null, null, null, n, 0, false, d));
        }
        Random random = new Random(11);
        // data through every block size the encoder uses and every remainder
        for (int n : new int[] {47, 48, 49, 50, 95, 96, 191, 192, 193, 767, 768, 770, 3071, 3072, 3073, 4000, 8191,
                8192}) {
            byte[] d = new byte[n];
            random.nextBytes(d);
            out.add(event(Events.TS + n, "t", n, 0, null, null, null, null, n, 0, false, d));
        }
        byte[] chunk = new byte[8192];
        random.nextBytes(chunk);
        // a truncated call's first record: len beyond what was captured
        out.add(event(Events.TS, "main", 0xffff_8000_0000_1230L, 1L << 40, "client", 17, "127.0.0.1:50312",
                "[2001:db8::1]:8443", 1_000_000, 0, true, chunk));
        out.add(event(Events.TS, "main", 1, Long.MAX_VALUE, "server", -1, null, null, 5, 8192, false,
                "tail!".getBytes(StandardCharsets.US_ASCII)));
        out.add(event(Events.TS, "main", 0, -5, null, Integer.MIN_VALUE, null, "10.0.0.1:1", 0, 0, false, new byte[0]));
        // thread names: unicode (2-, 3- and 4-byte UTF-8), escapes, control characters, a lone surrogate
        for (String thread : List.of("élan-vital", "スレッド-1", "worker-\uD83D\uDE80-7", "quote\"back\\slash",
                "tab\tnl\ncr\r", "bell\u0007nul\u0000esc\u001b", "lone\uD800surrogate", "\uDC00", "", "\u007f\u0080")) {
            out.add(event(Events.TS, thread, 2, 3, "client", 9, "127.0.0.1:1", "127.0.0.1:2", 4, 0, false,
                    thread.getBytes(StandardCharsets.UTF_8)));
        }
        // times: the epoch, a leap day, the last nanosecond of a year, before 1970, the extremes
        for (long ts : new long[] {0, 951_782_400_000_000_001L, 1_798_761_599_999_999_999L, -1, -86_400_000_000_001L,
                Long.MAX_VALUE, Long.MIN_VALUE}) {
            out.add(event(ts, "t", 1, 0, null, 3, null, null, 1, 0, false, new byte[] {1}));
        }
        // a redacted event, masked by the redactor as the agent does
        byte[] request = "GET / HTTP/1.1\r\nAuthorization: Bearer abc\r\nCookie: a=b\r\n\r\n"
                .getBytes(StandardCharsets.US_ASCII);
        CaptureEvent masked = Redactor.fromSettings(null, null, List.of(), x -> { })
                .apply(event(Events.TS, "main", 7, 7, "client", 5, "127.0.0.1:1", "127.0.0.1:2", request.length, 0,
                        false, request));
        assertTrue(masked.redacted());
        out.add(masked);
        return out;
    }

    @Test
    void theBytesAreThoseOfEventText() {
        EventJson json = new EventJson();
        byte[] buffer = new byte[64 * 1024];
        for (CaptureEvent e : events()) {
            EventView v = EventView.from(e);
            assertTrue(EventJson.maxLength(v) + 7 <= buffer.length);
            int end = json.writeLine(v, buffer, 7);
            assertArrayEquals(EventText.jsonLine(e), Arrays.copyOfRange(buffer, 7, end), EventText.json(e));
            end = json.write(v, buffer, 0);
            assertArrayEquals(EventText.json(e).getBytes(StandardCharsets.UTF_8), Arrays.copyOf(buffer, end));
        }
    }

    @Test
    void dataIsReadFromTheViewsRangeOnly() {
        byte[] around = "xxhelloyy".getBytes(StandardCharsets.US_ASCII);
        EventView v = EventView.from(Events.sample());
        v.data(around, 2, 5);
        byte[] buffer = new byte[EventJson.maxLength(v)];
        int end = new EventJson().write(v, buffer, 0);
        assertEquals(EventText.json(Events.sample()), new String(buffer, 0, end, StandardCharsets.UTF_8));
    }

    @Test
    void maxLengthBoundsTheWorstCase() {
        // every character of every string escaped to six bytes, data of every length
        String worst = "\u0001".repeat(300);
        EventJson json = new EventJson();
        for (int n = 0; n < 40; n++) {
            CaptureEvent e = new CaptureEvent(Long.MIN_VALUE, Integer.MIN_VALUE, Integer.MIN_VALUE, worst, worst,
                    worst, worst, worst, worst, -1, Long.MIN_VALUE, worst, Integer.MIN_VALUE, worst, worst,
                    Long.MIN_VALUE, Long.MIN_VALUE, Integer.MIN_VALUE, true, new byte[n], true);
            EventView v = EventView.from(e);
            byte[] buffer = new byte[EventJson.maxLength(v)];
            int end = json.writeLine(v, buffer, 0);
            assertArrayEquals(EventText.jsonLine(e), Arrays.copyOf(buffer, end));
        }
    }
}
