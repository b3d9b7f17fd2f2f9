package io.btfagent.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

/**
 * {@code doctor}: on this machine as root every check passes (alone and against a running
 * wildfly-openssl JVM, whose libssl it names with its catalog BTF); as an unprivileged user
 * the capability line fails with the fix; against a JVM using a library build the catalog does
 * not have, that library's line names its build-id and how to supply its BTF, and passes once
 * {@code btf.path} holds it.
 */
@Privileged
class DoctorIT extends AgainstEchoServer {
    private static final Path JAR = ChildJvm.AGENT_JAR;
    private static final String CATALOG = System.getProperty("it.catalog.index",
            "../native-targets/catalog/index.tsv");

    private static List<String> marked(String stdout, String mark) {
        return stdout.lines().filter(l -> l.startsWith(mark + " ")).toList();
    }

    private static void assertEveryLineMarked(String stdout) {
        List<String> lines = stdout.lines().toList();
        for (String l : lines.subList(0, lines.size() - 1)) {
            assertTrue(l.startsWith("✓ ") || l.startsWith("✗ ") || l.startsWith("· "), "unmarked line: " + l);
        }
    }

    @Test
    void featuresTheKernelLacksAreNamedWithWhatReplacesThem() throws Exception {
        RunningJvm.Command doctor = RunningJvm.command(
                List.of("env", "BTF_AGENT_KERNEL_ASSUME_MISSING=attach-cookie,bpf-loop"), JAR, "doctor");
        assertEquals(0, doctor.exitCode(), doctor.stdout() + doctor.stderr());
        assertTrue(doctor.stdout().lines().anyMatch(l -> l.startsWith("· kernel ") && l.contains(
                " lacks bpf_get_attach_cookie (5.15), bpf_loop (5.17): the agent captures the same events with one entry "
                        + "program per function, bounded copy loop (at most 512 KiB a call) (asked the kernel)")),
                doctor.stdout());
        assertTrue(doctor.stdout().contains("· no usable uprobe_multi"), doctor.stdout());
        assertTrue(doctor.stdout().endsWith("capture would work here\n"), doctor.stdout());
    }

    @Test
    void asRootOnThisMachineEveryCheckPasses() throws Exception {
        RunningJvm.Command doctor = RunningJvm.command(JAR, "doctor");
        assertEquals(0, doctor.exitCode(), doctor.stdout() + doctor.stderr());
        assertEquals(List.of(), marked(doctor.stdout(), "✗"));
        assertEveryLineMarked(doctor.stdout());
        for (String check : List.of("✓ kernel ", "✓ BPF features: attach cookies, bpf_loop, fetching atomics (asked the "
                + "kernel)", "✓ uprobe_multi links ", "✓ kernel BTF /sys/kernel/btf/vmlinux ",
                "✓ capabilities of this process (root): ", "✓ native.dir ")) {
            assertTrue(doctor.stdout().lines().anyMatch(l -> l.startsWith(check)), check + " in:\n" + doctor.stdout());
        }
        assertTrue(doctor.stdout().endsWith("capture would work here\n"), doctor.stdout());
    }

    @Test
    void againstARunningJvmItNamesItsLibsslWithItsBtfAndItsStack() throws Exception {
        try (RunningJvm service = new RunningJvm(List.of(), ChildJvm.CLASSPATH, List.of(), server.port())) {
            String pid = String.valueOf(service.pid());
            RunningJvm.Command doctor = RunningJvm.command(JAR, "doctor", pid);
            assertEquals(0, doctor.exitCode(), doctor.stdout() + doctor.stderr());
            assertEquals(List.of(), marked(doctor.stdout(), "✗"));
            assertEveryLineMarked(doctor.stdout());
            String id = Libraries.buildId(Path.of(ChildJvm.LIBSSL_DIR, "libssl.so.3"));
            String version = WildflyCaptureIT.systemOpensslVersion();
            assertTrue(doctor.stdout().contains("\n✓ openssl " + version + " at " + ChildJvm.LIBSSL_DIR
                    + "/libssl.so.3, build-id " + id + ": BTF catalog:openssl/" + version + "-" + id.substring(0, 12)
                    + ".btf\n"), doctor.stdout());
            assertTrue(doctor.stdout().contains("\n· JVM stack: wildfly-openssl "), doctor.stdout());
            assertTrue(doctor.stdout().lines().anyMatch(l -> l.matches("✓ JSSE, the JDK's own TLS \\(Java \\d[^)]*\\): "
                    + "captured in the JVM .*")), doctor.stdout());
            assertTrue(doctor.stdout().contains("\n✓ pid " + pid + " is a HotSpot JVM of user root"), doctor.stdout());
            assertTrue(doctor.stdout().contains("\n✓ capabilities of pid " + pid + " (root): "), doctor.stdout());
            assertTrue(doctor.stdout().endsWith("capture would work in pid " + pid + "\n"), doctor.stdout());
            assertFalse(service.stderr().contains("[btf-agent]"), "doctor does not load the agent");
            assertTrue(service.request().contains("HTTP/1.1 200 OK"));
        }
    }

    @Test
    void asAnUnprivilegedUserTheCapabilityLineFailsWithTheFix() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("world-readable"));
        Path jar = Files.copy(JAR, dir.resolve("btf-agent.jar"));
        AttachIT.openToAll(tmp);
        RunningJvm.Command doctor = RunningJvm.command(List.of("setpriv", "--reuid=65534", "--regid=65534",
                "--clear-groups", "--inh-caps=-all", "--"), jar, "doctor", "native.dir=" + dir.resolve("natives"));
        assertEquals(1, doctor.exitCode(), doctor.stdout() + doctor.stderr());
        assertEquals(List.of("✗ capabilities of this process (nobody): lacks CAP_BPF and CAP_PERFMON (or CAP_SYS_ADMIN) "
                + "(effective 0x0, permitted 0x0, bounding 0x" + boundingSet() + "); they are allowed but a non-root JVM does "
                + "not get them: give the java launcher file capabilities (setcap cap_bpf,cap_perfmon+ep on the java "
                + "binary, in the image) or start the JVM with ambient capabilities (setpriv --inh-caps +bpf,+perfmon "
                + "--ambient-caps +bpf,+perfmon)"), marked(doctor.stdout(), "✗"));
        assertTrue(doctor.stdout().contains("\n✓ kernel BTF /sys/kernel/btf/vmlinux"), doctor.stdout());
        assertTrue(doctor.stdout().endsWith("capture would not work: fix the lines marked ✗\n"), doctor.stdout());
        assertFalse(Files.exists(dir.resolve("natives")), "doctor creates nothing");
    }

    /** This JVM's bounding set, which setpriv passes on, in hex as doctor prints it. */
    private static String boundingSet() throws java.io.IOException {
        return Files.readAllLines(Path.of("/proc/self/status")).stream().filter(l -> l.startsWith("CapBnd:"))
                .map(l -> new java.math.BigInteger(l.substring(7).trim(), 16).toString(16)).findFirst().orElseThrow();
    }

    @Test
    void aLibraryBuildNotInTheCatalogIsNamedWithHowToSupplyItsBtf() throws Exception {
        Path libs = tmp.resolve("unknown-build");
        String systemVersion = WildflyCaptureIT.systemOpensslVersion();
        Path libssl = Libraries.unknownBuild(libs, "3.9." + systemVersion.substring(4));
        String unknownId = Libraries.buildId(libssl);
        try (RunningJvm service = new RunningJvm(List.of(), ChildJvm.CLASSPATH,
                List.of("-Dorg.wildfly.openssl.path=" + libs), server.port())) {
            String pid = String.valueOf(service.pid());
            RunningJvm.Command doctor = RunningJvm.command(JAR, "doctor", pid);
            assertEquals(1, doctor.exitCode(), doctor.stdout() + doctor.stderr());
            assertEquals(List.of("✗ openssl 3.9." + systemVersion.substring(4) + " at " + libssl + ", build-id "
                    + unknownId + ": build-id " + unknownId + " is not in the BTF catalog and no catalog build shares "
                    + "its version line; generate its BTF (native-targets) and put it in btf.path as " + unknownId
                    + ".btf"), marked(doctor.stdout(), "✗"));

            // supplied as the fix says (the BTF of the build it was copied from, which has its layout)
            Path btfDir = Files.createDirectories(tmp.resolve("btf"));
            String systemId = Libraries.buildId(Path.of(ChildJvm.LIBSSL_DIR, "libssl.so.3"));
            Path catalogBtf = Path.of(CATALOG).resolveSibling("openssl")
                    .resolve(systemVersion + "-" + systemId.substring(0, 12) + ".btf");
            Files.copy(catalogBtf, btfDir.resolve(unknownId + ".btf"));
            RunningJvm.Command fixed = RunningJvm.command(JAR, "doctor", pid, "btf.path=" + btfDir);
            assertEquals(0, fixed.exitCode(), fixed.stdout() + fixed.stderr());
            assertTrue(fixed.stdout().contains("\n✓ openssl 3.9." + systemVersion.substring(4) + " at " + libssl
                    + ", build-id " + unknownId + ": BTF " + btfDir.resolve(unknownId + ".btf")), fixed.stdout());
        }
    }

    @Test
    void aDeletedLibraryIsReadThroughItsMappingAndSaysDeleted() throws Exception {
        // the system's libssl, copied, loaded by the JVM and then deleted (as netty does with its own)
        Path libs = Files.createDirectories(tmp.resolve("deleted"));
        Path libssl = Files.copy(Path.of(ChildJvm.LIBSSL_DIR, "libssl.so.3"), libs.resolve("libssl.so.3"));
        Files.copy(Path.of(ChildJvm.LIBSSL_DIR, "libcrypto.so.3"), libs.resolve("libcrypto.so.3"));
        try (RunningJvm service = new RunningJvm(List.of(), ChildJvm.CLASSPATH,
                List.of("-Dorg.wildfly.openssl.path=" + libs), server.port())) {
            Files.delete(libssl);
            Files.delete(libs.resolve("libcrypto.so.3"));
            String pid = String.valueOf(service.pid());
            RunningJvm.Command doctor = RunningJvm.command(JAR, "doctor", pid);
            assertEquals(0, doctor.exitCode(), doctor.stdout() + doctor.stderr());
            String id = Libraries.buildId(Path.of(ChildJvm.LIBSSL_DIR, "libssl.so.3"));
            String version = WildflyCaptureIT.systemOpensslVersion();
            assertTrue(doctor.stdout().contains("\n✓ openssl " + version + " at " + libssl + " (deleted), build-id " + id
                    + ": BTF catalog:openssl/" + version + "-" + id.substring(0, 12) + ".btf\n"), doctor.stdout());
            assertTrue(service.request().contains("HTTP/1.1 200 OK"));
        }
    }
}
