package io.btfagent.bpf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.btfagent.event.RecordLayout;
import io.btfagent.testing.Fixtures;
import java.io.IOException;
import java.time.Duration;
import java.util.Arrays;
import org.junit.jupiter.api.Test;

class CaptureObjectTest {
    @Test
    void pageSizeIsTheSmallestRing() {
        assertEquals(4096, CaptureObject.ringSize(0));
        assertEquals(4096, CaptureObject.ringSize(1));
        assertEquals(4096, CaptureObject.ringSize(4096));
    }

    @Test
    void sizesRoundUpToAPowerOfTwo() {
        assertEquals(8192, CaptureObject.ringSize(4097));
        assertEquals(8192, CaptureObject.ringSize(5000));
        assertEquals(16384, CaptureObject.ringSize(8193));
        assertEquals(8388608, CaptureObject.ringSize(8388608), "the default stays as it is");
        assertEquals(16777216, CaptureObject.ringSize(8388609));
    }

    @Test
    void sizesAreCappedAtOneGigabyte() {
        assertEquals(1 << 28, CaptureObject.ringSize(1 << 28));
        assertEquals(1 << 28, CaptureObject.ringSize((1L << 28) + 1));
        assertEquals(1 << 28, CaptureObject.ringSize(1 << 30));
        assertEquals(1 << 28, CaptureObject.ringSize(1L << 40));
    }

    /** The loop doubles a long until it reaches the request: past 2^62 it overflows to 0 and spins. */
    @Test
    void hugeRequestsAreCappedToo() {
        assertTimeoutPreemptively(Duration.ofSeconds(2), () -> assertEquals(1 << 28, CaptureObject.ringSize(Long.MAX_VALUE)));
    }

    @Test
    void theBundledObjectsLayoutIsReadFromItsBtf() throws IOException {
        RecordLayout l = CaptureObject.of(Fixtures.bytes(Fixtures.BPF_OBJECT_RESOURCE)).layout();
        assertEquals(0, l.tsNs());
        assertEquals(8, l.ssl());
        assertTrue(l.headerSize() > l.bioType(), l.toString());
    }

    @Test
    void anObjectWithoutBtfIsRefusedByName() {
        byte[] cut = Arrays.copyOf(Fixtures.bytes(Fixtures.BPF_OBJECT_RESOURCE), 64);
        assertThrows(IOException.class, () -> CaptureObject.of(cut));
    }

    @Test
    void uprobeMultiNeedsKernel610() {
        assertTrue(CaptureObject.kernelAtLeast("6.10.0", 6, 10));
        assertTrue(CaptureObject.kernelAtLeast("6.18.1-amd64", 6, 10));
        assertTrue(CaptureObject.kernelAtLeast("7.0", 6, 10));
        assertFalse(CaptureObject.kernelAtLeast("6.9.12", 6, 10));
        assertFalse(CaptureObject.kernelAtLeast("5.19", 6, 10));
        assertFalse(CaptureObject.kernelAtLeast("", 6, 10));
    }
}
