package io.btfagent.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import io.btfagent.elf.ElfFile;
import io.btfagent.testing.Fixtures;
import java.io.IOException;
import java.time.Duration;
import java.util.Arrays;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class CaptureTest {
    @Test
    void pageSizeIsTheSmallestRing() {
        assertEquals(4096, Capture.ringSize(0));
        assertEquals(4096, Capture.ringSize(1));
        assertEquals(4096, Capture.ringSize(4096));
    }

    @Test
    void sizesRoundUpToAPowerOfTwo() {
        assertEquals(8192, Capture.ringSize(4097));
        assertEquals(8192, Capture.ringSize(5000));
        assertEquals(16384, Capture.ringSize(8193));
        assertEquals(8388608, Capture.ringSize(8388608), "the default stays as it is");
        assertEquals(16777216, Capture.ringSize(8388609));
    }

    @Test
    void sizesAreCappedAtOneGigabyte() {
        assertEquals(1 << 28, Capture.ringSize(1 << 28));
        assertEquals(1 << 28, Capture.ringSize((1L << 28) + 1));
        assertEquals(1 << 28, Capture.ringSize(1 << 30));
        assertEquals(1 << 28, Capture.ringSize(1L << 40));
    }

    /** The loop doubles a long until it reaches the request: past 2^62 it overflows to 0 and spins. */
    @Test
    void hugeRequestsAreCappedToo() {
        assertTimeoutPreemptively(Duration.ofSeconds(2), () -> assertEquals(1 << 28, Capture.ringSize(Long.MAX_VALUE)));
    }

    @Test
    void catalogBtfIsUsable() {
        assertEquals(Optional.empty(), Capture.unusableBtf("openssl", Fixtures.bytes(Fixtures.CATALOG_BTF_RESOURCE)));
    }

    @Test
    void btfWithoutOpensslStructsIsUnusable() throws IOException {
        byte[] objectBtf = ElfFile.of(Fixtures.bytes(Fixtures.BPF_OBJECT_RESOURCE), "object").section(".BTF")
                .orElseThrow();
        assertEquals(Optional.of("has no struct ssl_st"), Capture.unusableBtf("openssl", objectBtf));
    }

    @Test
    void corruptBtfIsUnusable() {
        assertEquals(Optional.of("is corrupt (too short for a BTF header (0 bytes))"),
                Capture.unusableBtf("openssl", new byte[0]));
        byte[] cut = Arrays.copyOf(Fixtures.bytes(Fixtures.CATALOG_BTF_RESOURCE), 100);
        assertEquals(Optional.of("is corrupt (section bounds exceed the file (100 bytes))"), Capture.unusableBtf("openssl", cut));
    }

    @Test
    void aGnutlsBtfMustDescribeTheSession() {
        assertEquals(Optional.of("has no struct gnutls_session_int"),
                Capture.unusableBtf("gnutls", Fixtures.bytes(Fixtures.CATALOG_BTF_RESOURCE)));
    }

    @Test
    void cookiesCarryTheLibraryAboveTheFunction() {
        assertEquals(0x302, Capture.cookie(3, "SSL_write"));
        assertEquals(0x105, Capture.cookie(1, "gnutls_record_send"));
        assertEquals(0x100, Capture.cookie(1, "SSL_read"));
    }
}
