package io.btfagent.bpf;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.List;
import org.junit.jupiter.api.Test;

class KernelFeaturesTest {
    @Test
    void theTestLoadsInstructionsAreEncodedAsTheKernelReadsThem() {
        // llvm-objdump of clang's atomic_fetch_add: db 10 00 00 01 00 00 00 (r1 into *(r0 + 0))
        assertEquals(0x00000001_0000_10dbL, KernelFeatures.insn(0xdb, 0, 1, 0, 0x01));
        // *(u64 *)(r10 - 8) = r1: 7b 1a f8 ff 00 00 00 00
        assertEquals(0x00000000_fff8_1a7bL, KernelFeatures.insn(0x7b, 10, 1, -8, 0));
        // exit: 95 00 00 00 00 00 00 00
        assertEquals(0x95L, KernelFeatures.insn(0x95, 0, 0, 0, 0));
    }

    @Test
    void missingFeaturesAreNamedWithTheReleaseThatBroughtThem() {
        assertEquals(List.of(), KernelFeatures.ALL.missing());
        KernelFeatures old = new KernelFeatures(false, false, false);
        assertEquals(List.of("bpf_get_attach_cookie (5.15)", "fetching atomics (5.12)", "bpf_loop (5.17)"),
                old.missing());
        assertEquals("one entry program per function, bounded copy loop (at most 512 KiB a call), conn ids by map "
                + "insert", old.mode());
        assertEquals("one entry program, attach cookies, bpf_loop", KernelFeatures.ALL.mode());
    }
}
