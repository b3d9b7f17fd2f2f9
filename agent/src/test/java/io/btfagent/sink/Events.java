package io.btfagent.sink;

import io.btfagent.event.CaptureEvent;
import java.nio.charset.StandardCharsets;

/** Events for sink tests. */
final class Events {
    /** 2026-11-25T03:40:11Z ({@code date -u -d ... +%s}) plus 123456789 ns. */
    static final long TS = 1_795_578_011_123_456_789L;

    private Events() {
    }

    static CaptureEvent sample() {
        return new CaptureEvent(TS, 4242, 4250, "main", "openssl", "3.0.22", "/usr/lib/x86_64-linux-gnu/libssl.so.3",
                "SSL_write", "egress", 0x7f3a5c001230L, 17, "127.0.0.1:50312", "127.0.0.1:8443", 181, 0, 5, false,
                "hello".getBytes(StandardCharsets.US_ASCII));
    }

    static CaptureEvent numbered(int n) {
        return new CaptureEvent(TS + n, 1, 1, "t", "openssl", "3", "/l", "SSL_read", "ingress", n, 3, null, null, 1, 0,
                1, false, new byte[] {(byte) n});
    }
}
