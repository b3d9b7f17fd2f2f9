package io.btfagent.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Optional;
import org.junit.jupiter.api.Test;

class PreflightTest {
    /** The lines of /proc/self/status around CapEff, as the kernel prints them. */
    private static String status(String capEff) {
        return "Name:\tjava\nUmask:\t0022\nState:\tS (sleeping)\nCapInh:\t0000000000000000\n"
                + "CapPrm:\t000001ffffffffff\nCapEff:\t" + capEff + "\nCapBnd:\t000001ffffffffff\n"
                + "CapAmb:\t0000000000000000\nNoNewPrivs:\t0\n";
    }

    @Test
    void bpfAndPerfmonSuffice() {
        assertEquals(Optional.empty(), Preflight.capabilityProblem(status("000000c000000000")));
    }

    @Test
    void sysAdminAloneSuffices() {
        assertEquals(Optional.empty(), Preflight.capabilityProblem(status("0000000000200000")));
    }

    @Test
    void rootSuffices() {
        assertEquals(Optional.empty(), Preflight.capabilityProblem(status("000001ffffffffff")));
    }

    @Test
    void noCapabilitiesIsExplained() {
        String m = Preflight.capabilityProblem(status("0000000000000000")).orElseThrow();
        assertTrue(m.contains("CAP_BPF"), m);
        assertTrue(m.contains("CAP_PERFMON"), m);
        assertTrue(m.contains("root"), m);
        assertTrue(m.contains("(effective capabilities 0x0)"), m);
    }

    @Test
    void bpfWithoutPerfmonIsNotEnough() {
        String m = Preflight.capabilityProblem(status("0000008000000000")).orElseThrow();
        assertTrue(m.contains("(effective capabilities 0x8000000000)"), m);
        assertTrue(m.contains("CAP_PERFMON"), m);
    }

    @Test
    void perfmonWithoutBpfIsNotEnough() {
        String m = Preflight.capabilityProblem(status("0000004000000000")).orElseThrow();
        assertTrue(m.contains("(effective capabilities 0x4000000000)"), m);
    }

    @Test
    void statusWithoutCapEffMeansNoCapabilities() {
        assertTrue(Preflight.capabilityProblem("").isPresent());
        assertTrue(Preflight.capabilityProblem("CapPrm:\t000001ffffffffff\n").isPresent(),
                "only the effective set counts");
    }

    @Test
    void capabilityBitsAreTheKernelsNumbers() {
        // include/uapi/linux/capability.h
        assertEquals(21, Preflight.CAP_SYS_ADMIN);
        assertEquals(38, Preflight.CAP_PERFMON);
        assertEquals(39, Preflight.CAP_BPF);
    }
}
