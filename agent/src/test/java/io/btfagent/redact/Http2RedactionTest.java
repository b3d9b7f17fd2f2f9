package io.btfagent.redact;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.btfagent.event.CaptureEvent;
import io.btfagent.event.EventView;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;

/** HTTP/2 through the redactor: frames, blocks split every way, losses, detection. */
class Http2RedactionTest {
    private static final String TOKEN = "Bearer s3cr3t-t0ken";
    private final List<String> notices = new ArrayList<>();
    private final Redactor redactor = Redactor.fromSettings(null, "x-api-key", List.of(), notices::add)
            .describeHeaders(true);

    static byte[] ascii(String s) {
        return s.getBytes(StandardCharsets.ISO_8859_1);
    }

    static byte[] frame(int type, int flags, int stream, byte[] payload) {
        byte[] f = new byte[9 + payload.length];
        f[0] = (byte) (payload.length >>> 16);
        f[1] = (byte) (payload.length >>> 8);
        f[2] = (byte) payload.length;
        f[3] = (byte) type;
        f[4] = (byte) flags;
        f[5] = (byte) (stream >>> 24);
        f[6] = (byte) (stream >>> 16);
        f[7] = (byte) (stream >>> 8);
        f[8] = (byte) stream;
        System.arraycopy(payload, 0, f, 9, payload.length);
        return f;
    }

    static byte[] cat(byte[]... parts) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        for (byte[] p : parts) {
            out.writeBytes(p);
        }
        return out.toByteArray();
    }

    /** A literal field: {@code first} is the representation byte (with a 4/6-bit index 0: literal name). */
    static byte[] literal(int first, String name, String value, boolean huffmanValue) {
        byte[] v = huffmanValue ? HpackMaskerTest.Huffman.encode(value) : ascii(value);
        return cat(new byte[] {(byte) first, (byte) name.length()}, ascii(name),
                new byte[] {(byte) ((huffmanValue ? 0x80 : 0) | v.length)}, v);
    }

    static byte[] settings() {
        return frame(4, 0, 0, new byte[] {0, 1, 0, 0, 0x10, 0}); // HEADER_TABLE_SIZE 4096
    }

    /** The client's first write: preface, SETTINGS, one request's HEADERS with an indexed authorization. */
    static byte[] firstRequest() {
        byte[] block = cat(new byte[] {(byte) 0x83, (byte) 0x87}, // :method POST, :scheme https
                new byte[] {0x44, 0x05}, ascii("/a/Ok"), // :path, incremental
                cat(new byte[] {0x57, (byte) TOKEN.length()}, ascii(TOKEN)), // authorization, incremental
                literal(0x40, "x-api-key", "k-777", true));
        return cat(Http2Masker.PREFACE, settings(), frame(1, 0x4 | 0x1, 1, block));
    }

    private CaptureEvent event(long conn, String dir, long len, long offset, byte[] data) {
        return new CaptureEvent(1L, 7, 8, "t", "boringssl", "x", "/l", dir.equals("egress") ? "SSL_write" : "SSL_read",
                dir, 0x1000 + conn, conn, "client", -1, null, null, len, offset, data.length, false, data);
    }

    private EventView mask(long conn, String dir, long len, long offset, byte[] data) {
        EventView v = EventView.from(event(conn, dir, len, offset, data));
        redactor.mask(v);
        return v;
    }

    private EventView call(long conn, String dir, byte[] data) {
        return mask(conn, dir, data.length, 0, data);
    }

    private static String text(byte[] b) {
        return new String(b, StandardCharsets.ISO_8859_1);
    }

    @Test
    void aRequestsCredentialsAreMaskedAndTheRestKept() {
        byte[] in = firstRequest();
        byte[] copy = in.clone();
        EventView v = call(1, "egress", in);
        assertTrue(v.redacted());
        assertFalse(text(in).contains("s3cr3t"));
        assertTrue(text(in).contains("*".repeat(TOKEN.length())));
        assertTrue(text(in).contains("/a/Ok"));
        int diff = 0;
        for (int i = 0; i < in.length; i++) {
            diff += in[i] != copy[i] ? 1 : 0;
        }
        assertEquals(TOKEN.length() + HpackMaskerTest.Huffman.encode("k-777").length, diff);
        assertEquals("#stream 1 HEADERS\n:method: POST\n:scheme: https\n:path: /a/Ok\nauthorization: "
                + "*".repeat(TOKEN.length()) + "\nx-api-key: " + "*".repeat(4) + "\n", v.headers());
        // the next request refers to both by index (63 and 62): nothing to mask, the list shows them masked
        byte[] second = frame(1, 0x5, 3, new byte[] {(byte) 0x83, (byte) 0x87, (byte) 0xc0, (byte) 0xbf, (byte) 0xbe});
        EventView w = call(1, "egress", second);
        assertFalse(w.redacted());
        assertEquals("#stream 3 HEADERS\n:method: POST\n:scheme: https\n:path: /a/Ok\nauthorization: "
                + "*".repeat(TOKEN.length()) + "\nx-api-key: ****\n", w.headers());
        assertTrue(notices.isEmpty(), notices.toString());
    }

    @Test
    void theLogLineAndTheJsonLineShowTheDecodedMaskedList() {
        EventView v = call(20, "egress", firstRequest());
        String line = io.btfagent.sink.EventText.line(v.toEvent());
        assertTrue(line.contains(" redacted headers=\"[stream 1 HEADERS] :method: POST | :scheme: https | :path: /a/Ok"
                + " | authorization: " + "*".repeat(TOKEN.length()) + " | x-api-key: ****\" data=\""), line);
        io.btfagent.sink.EventJson json = new io.btfagent.sink.EventJson();
        byte[] b = new byte[io.btfagent.sink.EventJson.maxLength(v)];
        String out = new String(b, 0, json.write(v, b, 0), StandardCharsets.UTF_8);
        assertTrue(out.contains(",\"redacted\":true,\"headers\":[\"#stream 1 HEADERS\",\":method: POST\","
                + "\":scheme: https\",\":path: /a/Ok\",\"authorization: " + "*".repeat(TOKEN.length())
                + "\",\"x-api-key: ****\"],\"data\":\""), out);
        assertTrue(io.btfagent.sink.EventText.json(v.toEvent()).contains(",\"headers\":[\"#stream 1 HEADERS\","));
        // the same through apply(), the dispatcher's path for an immutable event
        CaptureEvent applied = redactor.apply(event(22, "egress", firstRequest().length, 0, firstRequest()));
        assertTrue(applied.redacted());
        assertTrue(applied.headers().startsWith("#stream 1 HEADERS\n:method: POST\n"), applied.headers());
        assertFalse(line.contains("s3cr3t") || out.contains("s3cr3t"));
    }

    @Test
    void redactPatternsApplyToDecodedHuffmanValues() {
        Redactor r = Redactor.fromSettings(null, null, List.of("secret-\\w+"), notices::add);
        byte[] value = HpackMaskerTest.Huffman.encode("my-secret-1");
        byte[] block = cat(new byte[] {(byte) 0x82, 0x0f, (byte) (58 - 15), (byte) (0x80 | value.length)}, value);
        byte[] in = cat(Http2Masker.PREFACE, settings(), frame(1, 0x5, 1, block));
        EventView v = EventView.from(event(21, "egress", in.length, 0, in));
        r.mask(v);
        assertTrue(v.redacted());
        for (int i = in.length - value.length; i < in.length; i++) {
            assertEquals((byte) 0xf9, in[i]);
        }
    }

    @Test
    void splitAtEveryByteAcrossCallsTheSameBytesAreMasked() {
        byte[] whole = firstRequest();
        Redactor once = Redactor.fromSettings(null, "x-api-key", List.of(), s -> { });
        byte[] expected = whole.clone();
        once.apply(event(9, "egress", expected.length, 0, expected));
        byte[] in = whole.clone();
        for (int i = 0; i < in.length; i++) {
            byte[] one = {in[i]};
            call(2, "egress", one); // one call per byte
            in[i] = one[0];
        }
        assertArrayEquals(expected, in);
        // and split into records of one call
        byte[] in2 = whole.clone();
        for (int i = 0; i < in2.length; i += 7) {
            byte[] piece = Arrays.copyOfRange(in2, i, Math.min(in2.length, i + 7));
            mask(3, "egress", in2.length, i, piece);
            System.arraycopy(piece, 0, in2, i, piece.length);
        }
        assertArrayEquals(expected, in2);
    }

    @Test
    void continuationPaddingAndPriorityAreFollowed() {
        byte[] secret = cat(new byte[] {0x57, (byte) TOKEN.length()}, ascii(TOKEN));
        // HEADERS: PADDED|PRIORITY, pad 3, priority 5 bytes, a fragment that ends inside the token
        byte[] part1 = cat(new byte[] {(byte) 0x82}, Arrays.copyOf(secret, 6));
        byte[] headers = frame(1, 0x8 | 0x20, 5, cat(new byte[] {3}, new byte[] {0, 0, 0, 1, 15}, part1, new byte[3]));
        byte[] cont = frame(9, 0x4, 5, Arrays.copyOfRange(secret, 6, secret.length));
        byte[] data = frame(0, 0x1, 5, ascii("Bearer is in the body"));
        byte[] in = cat(Http2Masker.PREFACE, settings(), headers, cont, data);
        EventView v = call(4, "egress", in);
        assertFalse(text(in).contains("s3cr3t"));
        assertTrue(text(in).contains("Bearer is in the body"), "DATA is not touched");
        assertEquals("#stream 5 HEADERS\n:method: GET\nauthorization: " + "*".repeat(TOKEN.length()) + "\n",
                v.headers());
        // padding bytes (zeros) kept
        assertEquals(0, in[Http2Masker.PREFACE.length + 15 + 9 + 1 + 5 + part1.length]);
    }

    @Test
    void neverIndexedLiteralsAreMasked() {
        byte[] block = literal(0x10, "x-trace", "abcdef", false);
        byte[] in = cat(Http2Masker.PREFACE, settings(), frame(1, 0x5, 1, block));
        call(5, "egress", in);
        assertTrue(text(in).endsWith("x-trace\u0006******"));
    }

    @Test
    void theServerDirectionIsFollowedFromItsSettingsFrame() {
        call(6, "egress", firstRequest());
        byte[] response = cat(settings(), frame(4, 1, 0, new byte[0]),
                frame(1, 0x4, 1, cat(new byte[] {(byte) 0x88}, literal(0x40, "set-cookie", "id=42", false))));
        EventView v = call(6, "ingress", response);
        assertTrue(text(response).endsWith("set-cookie\u0005*****"));
        assertEquals("#stream 1 HEADERS\n:status: 200\nset-cookie: *****\n", v.headers());
        byte[] plain = frame(1, 0x5, 1, cat(new byte[] {(byte) 0x88}, literal(0x40, "x-plain", "shown", false)));
        call(6, "ingress", plain);
        assertTrue(text(plain).endsWith("x-plain\u0005shown"), "followed from its start: only credentials masked");
        assertTrue(notices.isEmpty(), notices.toString());
    }

    @Test
    void afterLostBytesEveryLiteralValueIsMaskedAndItIsSaidOnce() {
        call(7, "egress", firstRequest());
        // a record of a later call lost: the next call starts at offset 0 with the previous one incomplete
        byte[] part = frame(0, 0, 1, ascii("0123456789"));
        mask(7, "egress", 100, 0, part); // 100-byte call, only 19 seen
        byte[] next = frame(1, 0x5, 3, cat(new byte[] {(byte) 0x83}, literal(0x40, "x-plain", "visible?", false)));
        EventView v = call(7, "egress", next);
        assertTrue(text(next).endsWith("x-plain\u0008********"), text(next));
        assertTrue(v.redacted());
        assertEquals(1, notices.size(), notices.toString());
        assertTrue(notices.get(0).startsWith("conn 7 (egress): HTTP/2 header state lost"), notices.get(0));
        // more lost bytes on the same connection are not said again
        mask(7, "egress", 100, 0, frame(0, 0, 1, ascii("x")));
        call(7, "egress", next.clone());
        assertEquals(1, notices.size());
    }

    @Test
    void recordsLostToAFullRingMakeEveryHttp2StreamFailClosed() {
        call(17, "egress", firstRequest());
        byte[] plainBefore = frame(1, 0x5, 3, cat(new byte[] {(byte) 0x83}, literal(0x40, "x-plain", "visible", false)));
        call(17, "egress", plainBefore);
        assertTrue(text(plainBefore).endsWith("x-plain\u0007visible"));
        redactor.recordsLost(); // a whole call of some connection may be missing
        byte[] next = frame(1, 0x5, 5, cat(new byte[] {(byte) 0x83}, literal(0x40, "x-plain", "visible", false)));
        call(17, "egress", next);
        assertTrue(text(next).endsWith("x-plain\u0007*******"), text(next));
        assertEquals(1, notices.size(), notices.toString());
    }

    @Test
    void aSizeUpdateBeyondWhatThePeerAnnouncedIsNotTrusted() {
        call(19, "egress", firstRequest()); // SETTINGS_HEADER_TABLE_SIZE 4096
        byte[] response = cat(settings(), frame(1, 0x4, 1, cat(new byte[] {0x3f, (byte) 0xe1, 0x3f}, // 8192
                literal(0x40, "x-plain", "visible", false))));
        call(19, "ingress", response);
        assertTrue(text(response).endsWith("x-plain\u0007*******"), text(response));
        assertEquals(1, notices.size(), notices.toString());
    }

    @Test
    void lostBytesInsideADataFrameKeepTheDecoderInStep() {
        call(8, "egress", firstRequest());
        byte[] big = frame(0, 0, 1, new byte[1000]);
        // a truncated call: 200 of its 1000+9 bytes kept
        mask(8, "egress", big.length, 0, Arrays.copyOf(big, 200));
        byte[] next = frame(1, 0x5, 3, cat(new byte[] {(byte) 0x83}, literal(0x40, "x-plain", "visible", false)));
        call(8, "egress", next);
        assertTrue(text(next).endsWith("x-plain\u0007visible"), "still in step: only credentials masked");
        assertTrue(notices.isEmpty());
    }

    @Test
    void aConnectionFirstSeenMidwayIsTakenAsHttp2WithEveryValueMasked() {
        byte[] next = frame(1, 0x5, 3, cat(new byte[] {(byte) 0x83, (byte) 0xbe},
                literal(0x40, "x-plain", "visible", false), literal(0x0, "grpc-timeout", "1S", false)));
        EventView v = call(10, "egress", next);
        assertTrue(text(next).endsWith("x-plain\u0007*******\u0000\u000cgrpc-timeout\u0002**"), text(next));
        assertTrue(v.redacted());
        assertEquals(1, notices.size());
        assertTrue(notices.get(0).contains("mid-connection"), notices.get(0));
        assertEquals("#stream 3 HEADERS\n:method: POST\n(dynamic entry 62, unknown)\nx-plain: *******\n"
                + "grpc-timeout: **\n", v.headers());
    }

    @Test
    void aRecordThatStartsInsideAFrameAfterALossIsMaskedUpToTheNextFrame() {
        call(11, "egress", firstRequest());
        byte[] tail = ascii("rest-of-a-lost-header-block");
        byte[] next = frame(1, 0x5, 3, cat(new byte[] {(byte) 0x83}, literal(0x40, "x-plain", "visible", false)));
        byte[] in = cat(tail, next);
        mask(11, "egress", 5000, 3000, in); // a later record of a call whose start was lost
        assertEquals("*".repeat(tail.length), text(Arrays.copyOf(in, tail.length)));
        assertTrue(text(in).endsWith("x-plain\u0007*******"));
    }

    @Test
    void http1IsMaskedAsBeforeAndAnH2cUpgradeSwitches() {
        byte[] req = ascii("GET / HTTP/1.1\r\nHost: h\r\nConnection: Upgrade, HTTP2-Settings\r\nUpgrade: h2c\r\n"
                + "Authorization: Basic dXNlcg==\r\n\r\n");
        EventView v = call(12, "egress", req);
        assertTrue(text(req).contains("Authorization: " + "*".repeat(14) + "\r\n"));
        assertNull(v.headers());
        byte[] resp = cat(ascii("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: h2c\r\n\r\n"),
                settings(), frame(1, 0x4, 1, cat(new byte[] {(byte) 0x88}, literal(0x40, "set-cookie", "a=b", false))));
        call(12, "ingress", resp);
        assertTrue(text(resp).endsWith("set-cookie\u0003***"), text(resp));
        byte[] preface = firstRequest();
        call(12, "egress", preface);
        assertFalse(text(preface).contains("s3cr3t"));
        assertTrue(notices.isEmpty(), notices.toString());
    }

    @Test
    void aDifferentConnectionOnTheSameTlsObjectStartsAfresh() {
        call(13, "egress", firstRequest());
        byte[] again = firstRequest();
        call(14, "egress", again); // same ssl pointer scheme, new conn: a fresh table, no notice
        assertFalse(text(again).contains("s3cr3t"));
        assertTrue(notices.isEmpty());
    }

    @Test
    void pushPromiseBlocksAreMaskedAndTheTableGrowsAndShrinksWithSizeUpdates() {
        // the client allows a table of 16384
        call(16, "egress", cat(Http2Masker.PREFACE, frame(4, 0, 0, new byte[] {0, 1, 0, 0, 0x40, 0})));
        // server: SETTINGS, then a PUSH_PROMISE (padded, promised stream 2) whose block sets the
        // table to 8192 and adds a cookie, then a block that shrinks it to 32 (evicting it) and
        // sends a literal whose name comes from a dynamic entry that no longer exists: an error
        byte[] promise = cat(new byte[] {0x3f, (byte) 0xe1, 0x3f}, // size update 8192
                literal(0x40, "cookie", "sid=1", false));
        byte[] pp = frame(5, 0x4 | 0x8, 1, cat(new byte[] {2}, new byte[] {0, 0, 0, 2}, promise, new byte[2]));
        byte[] in = cat(settings(), pp);
        EventView v = call(16, "ingress", in);
        assertTrue(text(in).contains("cookie\u0005*****"), text(in));
        assertEquals("#stream 1 PUSH_PROMISE\n(table size 8192)\ncookie: *****\n", v.headers());
        // a later reference to the cookie entry shows it masked
        byte[] ref = frame(1, 0x4, 1, new byte[] {(byte) 0xbe});
        assertEquals("#stream 1 HEADERS\ncookie: *****\n", call(16, "ingress", ref).headers());
        byte[] shrink = frame(1, 0x4, 1, new byte[] {0x3f, 0x01, (byte) 0xbe}); // 31+1 = 32 < 43, then index 62
        byte[] copy = shrink.clone();
        call(16, "ingress", shrink);
        assertEquals(1, notices.size(), "index 62 after the eviction does not decode: " + notices);
        assertArrayEquals(Arrays.copyOf(copy, 9), Arrays.copyOf(shrink, 9), "the frame header is kept");
        assertEquals("***", text(Arrays.copyOfRange(shrink, 9, 12)), "the undecodable block is masked whole");
    }

    @Test
    void anotherBinaryProtocolWhoseRecordsLookLikeAFrameHeaderIsNotTakenForHttp2() {
        // the start of a Kafka-like request in a record of its own: a 4-byte size of 265 (00 00 01
        // 09: length 1, type CONTINUATION), an api key, a version, a correlation id
        byte[] in = {0, 0, 1, 9, 0, 3, 0, 12, 0, 0, 0, 7, 0, 6};
        byte[] copy = in.clone();
        for (int i = 0; i < 3; i++) {
            EventView v = call(18, "egress", in);
            assertFalse(v.redacted());
        }
        assertArrayEquals(copy, in);
        assertTrue(notices.isEmpty(), notices.toString());
    }

    @Test
    void binaryThatIsNoHttp2IsLeftAlone() {
        byte[] in = new byte[64];
        for (int i = 0; i < in.length; i++) {
            in[i] = (byte) (i * 37 + 11);
        }
        byte[] copy = in.clone();
        EventView v = call(15, "egress", in);
        assertArrayEquals(copy, in);
        assertFalse(v.redacted());
    }
}
