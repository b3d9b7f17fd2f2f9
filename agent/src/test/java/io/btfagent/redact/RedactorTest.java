package io.btfagent.redact;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.btfagent.event.CaptureEvent;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class RedactorTest {
    private final List<String> problems = new ArrayList<>();
    private final Redactor redactor = Redactor.fromSettings(null, null, List.of(), problems::add);

    /** One record of a call on {@code ssl}: {@code len} bytes in the call, this record at {@code offset}. */
    private static CaptureEvent rec(long ssl, String dir, long len, long offset, String data) {
        byte[] b = data.getBytes(StandardCharsets.ISO_8859_1);
        return new CaptureEvent(1L, 7, 8, "t", "openssl", "3.0.19", "/l", dir.equals("egress") ? "SSL_write" : "SSL_read",
                dir, ssl, -1, null, null, len, offset, b.length, false, b);
    }

    private static CaptureEvent call(long ssl, String dir, String data) {
        return rec(ssl, dir, data.length(), 0, data);
    }

    private static String text(CaptureEvent e) {
        return new String(e.data(), StandardCharsets.ISO_8859_1);
    }

    @Test
    void credentialHeaderValuesBecomeStarsOfTheSameLength() {
        String in = "GET /a HTTP/1.1\r\nHost: example.org\r\nAuthorization: Bearer abc.def\r\n"
                + "cookie: s=1; t=2\r\nX-Other: keep\r\nProxy-AUTHORIZATION:Basic dXNlcg==\r\n\r\nbody";
        CaptureEvent out = redactor.apply(call(1, "egress", in));
        assertEquals("GET /a HTTP/1.1\r\nHost: example.org\r\nAuthorization: **************\r\n"
                + "cookie: ********\r\nX-Other: keep\r\nProxy-AUTHORIZATION:**************\r\n\r\nbody", text(out));
        assertTrue(out.redacted());
        assertEquals(in.length(), out.data().length);
        assertEquals(in.length(), out.len());
        assertEquals(in.length(), out.captured());
        assertEquals(0, out.offset());
    }

    @Test
    void setCookieInAResponseIsMasked() {
        CaptureEvent out = redactor.apply(call(1, "ingress",
                "HTTP/1.1 200 OK\r\nSet-Cookie: id=a3fWa; HttpOnly\r\nContent-Length: 0\r\n\r\n"));
        assertEquals("HTTP/1.1 200 OK\r\nSet-Cookie: ******************\r\nContent-Length: 0\r\n\r\n", text(out));
    }

    @Test
    void aValueSplitBetweenTwoRecordsOfACallIsMaskedInBoth() {
        String whole = "GET / HTTP/1.1\r\nAuthorization: Bearer secret-token\r\nHost: h\r\n\r\n";
        int cut = whole.indexOf("Bearer") + 3; // "...Authorization: Bea" | "rer secret-token..."
        CaptureEvent first = redactor.apply(rec(5, "egress", whole.length(), 0, whole.substring(0, cut)));
        CaptureEvent second = redactor.apply(rec(5, "egress", whole.length(), cut, whole.substring(cut)));
        assertEquals("GET / HTTP/1.1\r\nAuthorization: ***", text(first));
        assertEquals("****************\r\nHost: h\r\n\r\n", text(second));
        assertTrue(first.redacted() && second.redacted());
        assertEquals(cut, second.offset());
        assertEquals(whole.length() - cut, second.captured());
    }

    @Test
    void aNameSplitBetweenTwoRecordsIsStillRecognised() {
        String whole = "Host: h\r\nCoo" + "kie: a=b\r\n\r\n";
        int cut = "Host: h\r\nCoo".length();
        CaptureEvent first = redactor.apply(rec(5, "egress", whole.length(), 0, whole.substring(0, cut)));
        CaptureEvent second = redactor.apply(rec(5, "egress", whole.length(), cut, whole.substring(cut)));
        assertEquals("Host: h\r\nCoo", text(first));
        assertFalse(first.redacted(), "nothing to mask yet: the name is not a secret");
        assertEquals("kie: ***\r\n\r\n", text(second));
        assertTrue(second.redacted());
    }

    @Test
    void aHeaderSplitBetweenTwoReadsIsMasked() {
        // a server's SSL_read returns the request in two calls
        CaptureEvent a = redactor.apply(call(9, "ingress", "POST / HTTP/1.1\r\nAuthorization: Basic dXNl"));
        CaptureEvent b = redactor.apply(call(9, "ingress", "cjpwYXNz\r\nHost: h\r\n\r\n"));
        assertEquals("POST / HTTP/1.1\r\nAuthorization: **********", text(a));
        assertEquals("********\r\nHost: h\r\n\r\n", text(b));
    }

    @Test
    void streamsAreFollowedPerConnectionAndDirection() {
        CaptureEvent a1 = redactor.apply(call(1, "egress", "Cookie: sec"));
        CaptureEvent b1 = redactor.apply(call(2, "egress", "ret-looking but another connection\r\n"));
        CaptureEvent a2 = redactor.apply(call(1, "ingress", "ret-looking in the other direction\r\n"));
        CaptureEvent a3 = redactor.apply(call(1, "egress", "ret\r\nX: y\r\n"));
        assertEquals("Cookie: ***", text(a1));
        assertEquals("ret-looking but another connection\r\n", text(b1));
        assertEquals("ret-looking in the other direction\r\n", text(a2));
        assertEquals("***\r\nX: y\r\n", text(a3));
        assertSame(false, b1.redacted());
    }

    @Test
    void afterATruncatedCallTheNextStartsAsALineUnlessAValueWasOpen() {
        // a call of 100 bytes of which only 20 were kept: the next call does not follow on
        CaptureEvent cut = redactor.apply(rec(3, "egress", 100, 0, "Host: h\r\nX-Long: 012"));
        CaptureEvent next = redactor.apply(call(3, "egress", "Cookie: a=b\r\n"));
        assertEquals("Host: h\r\nX-Long: 012", text(cut));
        assertEquals("Cookie: ***\r\n", text(next), "a header right after the gap is masked, not missed");

        CaptureEvent open = redactor.apply(rec(4, "egress", 100, 0, "Authorization: Bearer 0123"));
        CaptureEvent after = redactor.apply(call(4, "egress", "4567\r\nHost: h\r\n"));
        assertEquals("Authorization: ***********", text(open));
        assertEquals("****\r\nHost: h\r\n", text(after), "a value open at the gap is masked to its line end");
    }

    @Test
    void foldedContinuationLinesOfAMaskedHeaderAreMasked() {
        CaptureEvent out = redactor.apply(call(1, "egress", "Cookie: a=1;\r\n b=2\r\nHost: h\r\n x\r\n"));
        assertEquals("Cookie: ****\r\n ***\r\nHost: h\r\n x\r\n", text(out));
    }

    @Test
    void otherTrafficIsUntouchedAndTheSameEventComesBack() {
        CaptureEvent in = call(1, "egress", "GET / HTTP/1.1\r\nHost: h\r\nAuthorization-Info: x\r\nXCookie: y\r\n\r\n");
        CaptureEvent out = redactor.apply(in);
        assertSame(in, out);
        assertFalse(out.redacted());
    }

    @Test
    void binaryDataIsUntouched() {
        byte[] b = new byte[4096];
        for (int i = 0; i < b.length; i++) {
            b[i] = (byte) (i * 7);
        }
        byte[] copy = b.clone();
        CaptureEvent in = new CaptureEvent(1L, 7, 8, "t", "openssl", "3", "/l", "SSL_write", "egress", 1, -1, null,
                null, b.length, 0, b.length, false, b);
        assertSame(in, redactor.apply(in));
        assertTrue(java.util.Arrays.equals(copy, in.data()));
    }

    @Test
    void extraHeadersAndPatternsAddToTheDefaults() {
        Redactor r = Redactor.fromSettings("http-headers", "X-Api-Key",
                List.of("\"password\":\"([^\"]*)\"", "sk_live_[0-9a-z]+"), problems::add);
        CaptureEvent out = r.apply(call(1, "egress", "POST / HTTP/1.1\r\nx-api-key: k123\r\nCookie: c\r\n\r\n"
                + "{\"user\":\"a\",\"password\":\"hunter2\",\"key\":\"sk_live_abc9\"}"));
        assertEquals("POST / HTTP/1.1\r\nx-api-key: ****\r\nCookie: *\r\n\r\n"
                + "{\"user\":\"a\",\"password\":\"*******\",\"key\":\"************\"}", text(out));
        assertEquals(List.of(), problems);
    }

    @Test
    void noneTurnsItOffAndBadSettingsAreOneLineEachWithoutTurningItOff() {
        assertNull(Redactor.fromSettings("none", null, List.of(), problems::add));
        Redactor r = Redactor.fromSettings("off", null, List.of("(unclosed", "tok=(\\w+)"), problems::add);
        assertEquals(List.of("redact=off is not one of http-headers, none; masking HTTP headers as by default",
                "redact.patterns: '(unclosed' is not a regular expression (Unclosed group at index 9); that pattern"
                        + " is not used"), problems);
        assertEquals("X: tok=***\r\nCookie: ***\r\n", text(r.apply(call(1, "egress", "X: tok=xyz\r\nCookie: abc\r\n"))));
    }

    @Test
    void forgottenStreamsStartAfreshAtALine() {
        redactor.apply(call(1, "egress", "Authorization: Bearer open"));
        for (int i = 0; i < Redactor.MAX_STREAMS; i++) {
            redactor.apply(call(1000 + i, "egress", "x"));
        }
        // stream 1 was forgotten: its next bytes are taken as a new line, not as the open value
        assertEquals("-value\r\n", text(redactor.apply(call(1, "egress", "-value\r\n"))));
    }

    @Test
    void newlineSearchFindsTheFirstAtEveryPositionAndAlignment() {
        for (int len = 0; len <= 40; len++) {
            for (int at = -1; at < len; at++) {
                byte[] b = new byte[len];
                java.util.Arrays.fill(b, (byte) 0x0b); // one above '\n': no false match from borrows
                if (at >= 0) {
                    b[at] = '\n';
                    if (at + 1 < len) {
                        b[at + 1] = '\n';
                    }
                }
                for (int from = 0; from <= len; from++) {
                    int expected = at >= from ? at : at + 1 >= from && at >= 0 && at + 1 < len ? at + 1 : len;
                    assertEquals(expected, HeaderMasker.indexOfNewline(b, from, len), "len " + len + " at " + at
                            + " from " + from);
                }
            }
        }
    }
}
