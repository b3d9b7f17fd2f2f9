package io.btfagent.sink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.btfagent.event.CaptureEvent;
import org.junit.jupiter.api.Test;

class EventTextTest {
    /** The bytes of "GET / HTTP/1.1\r\nHost: é" then 0x00 0xff; base64 from coreutils. */
    private static final byte[] REQUEST = {'G', 'E', 'T', ' ', '/', ' ', 'H', 'T', 'T', 'P', '/', '1', '.', '1', '\r', '\n',
        'H', 'o', 's', 't', ':', ' ', (byte) 0xc3, (byte) 0xa9, 0x00, (byte) 0xff};
    private static final String REQUEST_BASE64 = "R0VUIC8gSFRUUC8xLjENCkhvc3Q6IMOpAP8=";

    private static CaptureEvent read(String thread, Integer fd, boolean truncated, byte[] data) {
        return new CaptureEvent(Events.TS, 7, 8, thread, "openssl", "3.0.19", "/opt/ssl/lib/libssl.so.3", "SSL_read_ex",
                "ingress", 0xffff800012345678L, fd, null, null, 70000, 65536, data.length, truncated, data);
    }

    @Test
    void jsonHasEveryFieldInContractOrder() {
        assertEquals("{\"ts\":\"2026-11-25T03:40:11.123456789Z\",\"pid\":4242,\"tid\":4250,\"thread\":\"main\","
                + "\"lib\":\"openssl\",\"libVersion\":\"3.0.22\",\"libPath\":\"/usr/lib/x86_64-linux-gnu/libssl.so.3\","
                + "\"func\":\"SSL_write\",\"dir\":\"egress\",\"ssl\":\"0x7f3a5c001230\",\"fd\":17,"
                + "\"local\":\"127.0.0.1:50312\",\"remote\":\"127.0.0.1:8443\","
                + "\"len\":181,\"offset\":0,\"captured\":5,\"truncated\":false,\"data\":\"aGVsbG8=\"}",
                EventText.json(Events.sample()));
    }

    @Test
    void jsonLineIsJsonAndANewlineInUtf8() {
        CaptureEvent e = read("th\u00e9", 3, false, REQUEST);
        assertEquals(EventText.json(e) + "\n",
                new String(EventText.jsonLine(e), java.nio.charset.StandardCharsets.UTF_8));
        assertEquals(EventText.json(Events.sample()) + "\n",
                new String(EventText.jsonLine(Events.sample()), java.nio.charset.StandardCharsets.UTF_8));
    }

    @Test
    void aMaskedEventSaysRedactedAfterTruncatedInJsonAndLine() {
        CaptureEvent e = Events.sample().redactedAs("*****".getBytes(java.nio.charset.StandardCharsets.US_ASCII));
        assertTrue(EventText.json(e).endsWith(",\"len\":181,\"offset\":0,\"captured\":5,\"truncated\":false,"
                + "\"redacted\":true,\"data\":\"KioqKio=\"}"), EventText.json(e));
        assertTrue(EventText.line(e).endsWith(" len=181 offset=0 captured=5 redacted data=\"*****\""), EventText.line(e));
    }

    @Test
    void jsonLeavesOutUnknownFdAndAddresses() {
        assertEquals("{\"ts\":\"2026-11-25T03:40:11.123456789Z\",\"pid\":7,\"tid\":8,\"thread\":\"w\","
                + "\"lib\":\"openssl\",\"libVersion\":\"3.0.19\",\"libPath\":\"/opt/ssl/lib/libssl.so.3\","
                + "\"func\":\"SSL_read_ex\",\"dir\":\"ingress\",\"ssl\":\"0xffff800012345678\","
                + "\"len\":70000,\"offset\":65536,\"captured\":26,\"truncated\":true,\"data\":\"" + REQUEST_BASE64 + "\"}",
                EventText.json(read("w", null, true, REQUEST)));
    }

    @Test
    void jsonKeepsMemoryBioFd() {
        String json = EventText.json(read("w", -1, false, new byte[0]));
        assertTrue(json.contains(",\"ssl\":\"0xffff800012345678\",\"fd\":-1,\"len\":70000,"), json);
        assertTrue(json.endsWith(",\"captured\":0,\"truncated\":false,\"data\":\"\"}"), json);
    }

    @Test
    void jsonEscapesQuotesBackslashesAndControlCharacters() {
        String thread = "a\"b\\c\nd\re\tf\u0001g\u001fh é\u007f";
        String json = EventText.json(read(thread, 3, false, new byte[0]));
        assertTrue(json.contains(",\"thread\":\"a\\\"b\\\\c\\nd\\re\\tf\\u0001g\\u001fh é\u007f\",\"lib\":"),
                json);
    }

    @Test
    void timestampsHaveNineFractionalDigitsInUtc() {
        assertEquals("2026-11-25T03:40:11.123456789Z", EventText.timestamp(Events.TS));
        assertEquals("1970-01-01T00:00:00.000000005Z", EventText.timestamp(5));
        assertEquals("1970-01-01T00:00:01.000000000Z", EventText.timestamp(1_000_000_000L));
        assertEquals("1969-12-31T23:59:59.999999999Z", EventText.timestamp(-1));
    }

    @Test
    void lineShowsTheSameFacts() {
        assertEquals("openssl 3.0.22 SSL_write egress pid=4242 tid=4250 thread=main ssl=0x7f3a5c001230 fd=17 "
                + "local=127.0.0.1:50312 remote=127.0.0.1:8443 len=181 offset=0 captured=5 data=\"hello\"",
                EventText.line(Events.sample()));
    }

    @Test
    void lineEscapesLineBreaksAndNonPrintableBytes() {
        assertEquals("openssl 3.0.19 SSL_read_ex ingress pid=7 tid=8 thread=w ssl=0xffff800012345678 len=70000 "
                + "offset=65536 captured=26 truncated data=\"GET / HTTP/1.1\\r\\nHost: \\xc3\\xa9\\x00\\xff\"",
                EventText.line(read("w", null, true, REQUEST)));
    }

    @Test
    void lineEscapesQuotesBackslashTabAndDel() {
        byte[] data = {'"', '\\', '\t', 0x7f, 0x1b, ' ', '~'};
        assertEquals("openssl 3.0.19 SSL_read_ex ingress pid=7 tid=8 thread=w ssl=0xffff800012345678 fd=-1 len=70000 "
                + "offset=65536 captured=7 data=\"\\\"\\\\\\t\\x7f\\x1b ~\"",
                EventText.line(read("w", -1, false, data)));
    }

    /**
     * The thread name is the kernel's comm, which a process can set to anything but NUL; a line
     * break in it must not split one event into two log lines (or forge a log line).
     */
    @Test
    void lineIsOneLineWhateverTheThreadName() {
        String line = EventText.line(read("evil\n[btf-agent] forged", 3, false, new byte[0]));
        assertFalse(line.contains("\n"), line);
        assertFalse(line.contains("\r"), line);
    }
}
