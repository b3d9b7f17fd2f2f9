package io.btfagent.bpf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Optional;
import org.junit.jupiter.api.Test;

class ProcessAccessTest {
    private static final String INITIAL_USERNS = "         0          0 4294967295\n";
    private static final String ALL = "000001ffffffffff";
    /** podman 4.3's default set plus BPF and PERFMON, as read in a container here. */
    private static final String CONTAINER = "000000c0a80425fb";

    /** The lines of /proc/<pid>/status that matter, as the kernel prints them. */
    private static String status(int uid, String eff, String prm, String bnd, int seccomp) {
        return "Name:\tjava\nUmask:\t0022\nState:\tS (sleeping)\nUid:\t" + uid + "\t" + uid + "\t" + uid + "\t" + uid
                + "\nCapInh:\t0000000000000000\nCapPrm:\t" + prm + "\nCapEff:\t" + eff + "\nCapBnd:\t" + bnd
                + "\nCapAmb:\t0000000000000000\nNoNewPrivs:\t0\nSeccomp:\t" + seccomp + "\nSeccomp_filters:\t"
                + (seccomp == 2 ? 1 : 0) + "\n";
    }

    private static ProcessAccess access(String status) {
        return ProcessAccess.parse(status, INITIAL_USERNS, "2\n", "2\n", "[none] integrity confidentiality\n");
    }

    @Test
    void readsEverySet() {
        ProcessAccess a = access(status(1000, "0000000000000000", "0000004000000000", CONTAINER, 2));
        assertEquals(0, a.effective().signum());
        assertEquals(0x4000000000L, a.permitted().longValue());
        assertEquals(0xc0a80425fbL, a.bounding().longValue());
        assertEquals(2, a.seccomp());
        assertEquals(1000, a.uid());
        assertFalse(a.userNamespace());
        assertEquals(2, a.unprivilegedBpfDisabled());
        assertEquals(2, a.perfEventParanoid());
        assertEquals("none", a.lockdown());
    }

    @Test
    void bpfAndPerfmonSuffice() {
        assertEquals(Optional.empty(), access(status(0, "000000c000000000", ALL, ALL, 0)).blocker());
    }

    @Test
    void sysAdminAloneSuffices() {
        assertEquals(Optional.empty(), access(status(0, "0000000000200000", ALL, ALL, 0)).blocker());
    }

    @Test
    void bpfWithoutPerfmonIsNotEnough() {
        String m = access(status(0, "0000008000000000", ALL, ALL, 0)).blocker().orElseThrow();
        assertTrue(m.startsWith("this process lacks CAP_PERFMON (or CAP_SYS_ADMIN) (effective 0x8000000000, "), m);
    }

    @Test
    void aContainerWithoutTheCapabilitiesIsToldToAddThem() {
        String m = access(status(0, "00000000a80425fb", "00000000a80425fb", "00000000a80425fb", 2)).blocker()
                .orElseThrow();
        assertTrue(m.startsWith("this process lacks CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN)"), m);
        assertTrue(m.contains("--cap-add=BPF,PERFMON"), m);
        assertTrue(m.contains("securityContext.capabilities.add: [BPF, PERFMON]"), m);
    }

    @Test
    void aNonRootJvmWhoseContainerAllowsThemIsToldHowToRaiseThem() {
        String m = access(status(1000, "0000000000000000", "0000000000000000", CONTAINER, 0)).blocker().orElseThrow();
        assertTrue(m.contains("a non-root JVM does not get them"), m);
        assertTrue(m.contains("setcap cap_bpf,cap_perfmon+ep"), m);
        assertTrue(m.contains("--ambient-caps +bpf,+perfmon"), m);
    }

    @Test
    void aUserNamespaceBlocksWhateverTheCapabilities() {
        ProcessAccess a = ProcessAccess.parse(status(0, ALL, ALL, ALL, 0), "         0     100000      65536\n", "", "",
                "");
        assertTrue(a.userNamespace());
        assertTrue(a.blocker().orElseThrow().startsWith("this process runs in a user namespace"), a.toString());
    }

    @Test
    void aRefusalWithTheCapabilitiesUnderSeccompNamesTheFilterAndTheSyscalls() {
        ProcessAccess a = access(status(0, CONTAINER, CONTAINER, CONTAINER, 2));
        String m = a.explain("bpf_map_create(ringbuf btf_agent_events) failed: Operation not permitted (errno 1)", 1);
        assertTrue(m.startsWith("a seccomp filter (Seccomp: 2 in /proc/self/status) refuses it although the "
                + "capabilities are there: allow the bpf and perf_event_open syscalls"), m);
        assertFalse(m.contains("perf-event uprobe"), m);
    }

    @Test
    void aPerfUprobeRefusedWithoutSysAdminNamesTheKernelRule() {
        ProcessAccess a = access(status(0, CONTAINER, CONTAINER, CONTAINER, 0));
        String m = a.explain("attach uprobe /lib/ld.so:_dl_debug_state failed: Permission denied (errno 13); libbpf "
                + "said: libbpf: prog 'linker_mapped': failed to create uprobe '/lib/ld.so:0x3630' perf event: -EACCES",
                13);
        assertTrue(m.startsWith("this kernel creates a perf-event uprobe only for CAP_SYS_ADMIN"), m);
    }

    @Test
    void aRefusalWithNothingVisibleSaysSo() {
        String m = access(status(0, ALL, ALL, ALL, 0)).explain("bpf_prog_load failed", 1);
        assertTrue(m.contains("no seccomp filter is set, so a security module"), m);
    }

    @Test
    void causeIsEmptyForOtherFailures() {
        assertEquals("", ProcessAccess.cause(new RuntimeException("x")));
    }

    @Test
    void statusWithoutCapEffMeansNoCapabilities() {
        assertTrue(access("").blocker().isPresent());
        assertTrue(access("CapPrm:\t000001ffffffffff\n").blocker().isPresent(), "only the effective set counts");
    }

    @Test
    void capabilityBitsAreTheKernelsNumbers() {
        // include/uapi/linux/capability.h
        assertEquals(21, ProcessAccess.CAP_SYS_ADMIN);
        assertEquals(38, ProcessAccess.CAP_PERFMON);
        assertEquals(39, ProcessAccess.CAP_BPF);
    }

    @Test
    void kernelDevIsTheKernelsEncoding() {
        // nsfs is 0:4 here (stat -c %d /proc/self/ns/pid prints 4): the same in both encodings
        assertEquals(4, PidNamespace.kernelDev(4));
        // major 259, minor 300 as glibc encodes it, to MKDEV(259, 300)
        long user = (300 & 0xff) | (259L << 8) | ((300L & ~0xffL) << 12);
        assertEquals((259L << 20) | 300, PidNamespace.kernelDev(user));
    }
}
