package io.btfagent.event;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class RecordRouterTest {
    private static final RecordLayout LAYOUT = RecordLayoutTest.EXPECTED;

    private final List<CaptureEvent> published = new ArrayList<>();
    private final List<String> failures = new ArrayList<>();
    private final List<RecordRouter.Refusal> refusals = new ArrayList<>();
    private final RecordRouter router = new RecordRouter(LAYOUT, published::add, failures::add, refusals::add);

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

    /** A socket BIO (type 0x505) read with fd 5 and a family: what a right BTF reads. */
    private static ByteBuffer checked(int cookie, int bioType, int family) {
        ByteBuffer b = record(cookie, new byte[] {9});
        b.putInt(LAYOUT.bioType(), bioType).putShort(LAYOUT.family(), (short) family);
        return b;
    }

    @Test
    void aGuardedLibraryIsReportedWhileItsRecordsPassTheCheck() {
        router.add(1, decoder("openssl"), new BuildCheck(LAYOUT));
        router.accept(checked(0x102, 0x505, 2));
        assertEquals(1, published.size());
        assertEquals(List.of(), refusals);
        assertEquals(Optional.empty(), router.refusal(1));
    }

    @Test
    void theFirstFailedCheckRefusesTheLibraryOnceAndDropsEveryLaterRecordOfIt() {
        router.add(1, decoder("openssl"), new BuildCheck(LAYOUT));
        router.add(2, decoder("gnutls"), null);
        router.accept(checked(0x102, 0x7fff1234, 2));
        router.accept(checked(0x102, 0x505, 2));
        router.accept(checked(0x100, 0x505, 0));
        router.accept(record(0x205, new byte[] {1}));
        assertEquals(List.of(new RecordRouter.Refusal(1, "it reads an impossible BIO type 0x7fff1234")), refusals);
        assertEquals(Optional.of("it reads an impossible BIO type 0x7fff1234"), router.refusal(1));
        assertEquals(3, router.refusedRecords(), "the failing record and both after it, though they would pass");
        assertEquals(1, published.size(), "another library's records still flow");
        assertEquals("gnutls", published.get(0).lib());
        assertEquals(0, router.undecodable());
    }
}
