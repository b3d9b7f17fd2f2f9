package io.btfagent.event;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

class RecordRouterTest {
    private static final RecordLayout LAYOUT = RecordLayoutTest.EXPECTED;

    private final List<CaptureEvent> published = new ArrayList<>();
    private final List<String> failures = new ArrayList<>();
    private final RecordRouter router = new RecordRouter(LAYOUT, published::add, failures::add);

    private static ByteBuffer record(int cookie, byte[] data) {
        ByteBuffer b = ByteBuffer.allocate(LAYOUT.headerSize() + data.length).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(LAYOUT.captured(), data.length).putInt(LAYOUT.cookie(), cookie).putInt(LAYOUT.fd(), 5);
        b.put(LAYOUT.headerSize(), data);
        return b;
    }

    private static RecordDecoder decoder(String lib) {
        return new RecordDecoder(LAYOUT, new RecordDecoder.Source(lib, "1", "/lib/" + lib), 0);
    }

    @Test
    void cookiesCarryTheLibraryAboveTheFunction() {
        assertEquals(0x302, RecordRouter.cookie(3, "SSL_write"));
        assertEquals(0x105, RecordRouter.cookie(1, "gnutls_record_send"));
        assertEquals(0x100, RecordRouter.cookie(1, "SSL_read"));
    }

    @Test
    void eachRecordGoesToTheLibraryItsCookieNames() {
        router.add(1, decoder("openssl"), null);
        router.add(2, decoder("gnutls"), null);
        router.accept(record(0x205, new byte[] {1, 2}));
        router.accept(record(0x102, new byte[] {3}));
        assertEquals(2, published.size());
        assertEquals("gnutls", published.get(0).lib());
        assertEquals("gnutls_record_send", published.get(0).func());
        assertEquals("openssl", published.get(1).lib());
        assertEquals("SSL_write", published.get(1).func());
        assertEquals(0, router.undecodable());
    }

    @Test
    void aRecordOfNoLibraryIsCountedAndTheFirstIsSaid() {
        router.add(1, decoder("openssl"), null);
        router.remove(1);
        router.accept(record(0x102, new byte[] {3}));
        router.accept(record(0x702, new byte[] {3}));
        assertEquals(List.of(), published);
        assertEquals(2, router.undecodable());
        assertEquals(List.of("record of no hooked library (cookie 102)"), failures);
    }

    @Test
    void aGuardDecidesWhetherARecordIsReported() {
        List<Integer> seen = new ArrayList<>();
        router.add(1, decoder("openssl"), r -> {
            seen.add(r.getInt(LAYOUT.captured()));
            return r.getInt(LAYOUT.captured()) == 2;
        });
        router.accept(record(0x100, new byte[] {1}));
        router.accept(record(0x100, new byte[] {1, 2}));
        assertEquals(List.of(1, 2), seen);
        assertEquals(1, published.size());
        assertEquals(2, published.get(0).captured());
    }
}
