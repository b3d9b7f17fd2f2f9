package io.btfagent.redact;

import static org.junit.jupiter.api.Assertions.assertTrue;

import io.btfagent.event.EventView;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The redactor allocates nothing per event once a connection is known, HTTP/1 or HTTP/2. */
class RedactorAllocationTest {
    private static final int EVENTS = 20_000;

    private static long allocatedPerRound(byte[] first, byte[] record) {
        Redactor r = Redactor.fromSettings(null, "x-api-key", List.of(), s -> { });
        EventView v = new EventView();
        if (first != null) {
            byte[] f = first.clone();
            v.set(0, 1, 1, "t", "boringssl", "x", "/l", "SSL_write", "egress", 1, 1, null, -1, null, null, f.length, 0,
                    f.length, false);
            v.data(f, 0, f.length);
            r.mask(v);
        }
        byte[] data = record.clone();
        com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        long tid = Thread.currentThread().getId();
        long allocated = 0;
        for (int round = 0; round < 3; round++) { // warm-up rounds: class loading, JIT
            long a0 = threads.getThreadAllocatedBytes(tid);
            for (int i = 0; i < EVENTS; i++) {
                System.arraycopy(record, 0, data, 0, record.length);
                v.set(0, 1, 1, "t", "boringssl", "x", "/l", "SSL_write", "egress", 1, 1, null, -1, null, null,
                        data.length, 0, data.length, false);
                v.data(data, 0, data.length);
                r.mask(v);
            }
            allocated = threads.getThreadAllocatedBytes(tid) - a0;
        }
        return allocated;
    }

    @Test
    void http1RecordsAllocateNothing() {
        byte[] req = "GET /x HTTP/1.1\r\nHost: h\r\nAuthorization: Bearer abc\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1);
        long a = allocatedPerRound(null, req);
        assertTrue(a < EVENTS / 10, a + " bytes for " + EVENTS + " events");
    }

    @Test
    void http2RecordsAllocateNothingEvenWhenMaskingAndIndexing() {
        byte[] start = Http2RedactionTest.cat(Http2Masker.PREFACE, Http2RedactionTest.settings());
        // each record: a HEADERS frame with indexed fields, an authorization literal added to the
        // table (so the table evicts as it goes), and DATA
        byte[] block = Http2RedactionTest.cat(new byte[] {(byte) 0x83, (byte) 0x87, (byte) 0x84},
                new byte[] {0x57, 10}, "Bearer t0k".getBytes(StandardCharsets.ISO_8859_1),
                Http2RedactionTest.literal(0x40, "x-api-key", "k-777", true));
        byte[] record = Http2RedactionTest.cat(Http2RedactionTest.frame(1, 0x4, 3, block),
                Http2RedactionTest.frame(0, 1, 3, new byte[] {0, 0, 0, 0, 5, 'h', 'e', 'l', 'l', 'o'}));
        long a = allocatedPerRound(start, record);
        assertTrue(a < EVENTS / 10, a + " bytes for " + EVENTS + " events");
    }
}
