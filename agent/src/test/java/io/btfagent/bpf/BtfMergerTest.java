package io.btfagent.bpf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.btfagent.bpf.internal.Libbpf;
import io.btfagent.btf.BtfFile;
import io.btfagent.elf.ElfFile;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Merging through libbpf's btf__* API, which needs the library but no BPF privileges: the
 * object's own BTF stands in for the kernel's, the catalog's OpenSSL BTF is appended.
 */
class BtfMergerTest {
    private static final Path CATALOG_BTF = Path.of("../native-targets/catalog/openssl/3.0.19-c0b9959017cf.btf");

    @TempDir
    static Path tmp;

    private static Path base;
    private static BtfFile baseBtf;

    @BeforeAll
    static void bindLibbpf() throws Exception {
        // the libbpf the agent bundles, built by native-targets earlier in the same build
        Libbpf.bind(Path.of(System.getProperty("btf.agent.libbpf", "../native-targets/target/libbpf/libbpf.so"))
                .toAbsolutePath().toString());
        byte[] object;
        try (InputStream in = BtfMergerTest.class.getClassLoader().getResourceAsStream("io/btfagent/bpf/ssl_capture.bpf.o")) {
            object = in.readAllBytes();
        }
        byte[] btf = ElfFile.of(object, "ssl_capture.bpf.o").section(".BTF").orElseThrow();
        base = Files.write(tmp.resolve("base.btf"), btf);
        baseBtf = BtfFile.parse(btf);
    }

    @Test
    void mergedBtfHoldsBothSetsOfTypesWithTheirLayouts() throws Exception {
        byte[] user = Files.readAllBytes(CATALOG_BTF);
        BtfFile userBtf = BtfFile.parse(user);
        try (BtfMerger.Merged merged = BtfMerger.merge(base.toString(), user)) {
            byte[] bytes = Files.readAllBytes(Path.of(merged.path()));
            assertEquals(bytes.length, merged.size());
            BtfFile m = BtfFile.parse(bytes);
            assertEquals(baseBtf.typeCount() + userBtf.typeCount(), m.typeCount());
            assertEquals(128, m.struct("capture_header").orElseThrow().size());
            assertEquals(16, m.struct("ssl_st").orElseThrow().offsetOf("rbio"));
            assertEquals(24, m.struct("ssl_st").orElseThrow().offsetOf("wbio"));
        }
    }

    @Test
    void everyMergeOfAKernelBtfReadOnceWritesWhatAppendGives() throws Exception {
        byte[] user = Files.readAllBytes(CATALOG_BTF);
        byte[] expected = BtfMerger.append(Files.readAllBytes(base), user);
        for (int i = 0; i < 2; i++) { // the second merge uses the kernel BTF as indexed by the first
            try (BtfMerger.Merged merged = BtfMerger.merge(base.toString(), user)) {
                assertArrayEquals(expected, Files.readAllBytes(Path.of(merged.path())), "merge " + i);
            }
        }
    }

    @Test
    void theKernelSubsetKeepsEveryStructTheProgramNamesWithItsLayoutAndLibbpfParsesIt() throws Exception {
        Path vmlinux = Path.of("/sys/kernel/btf/vmlinux");
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.isReadable(vmlinux), "no kernel BTF here");
        byte[] object;
        try (InputStream in = BtfMergerTest.class.getClassLoader().getResourceAsStream("io/btfagent/bpf/ssl_capture.bpf.o")) {
            object = in.readAllBytes();
        }
        java.util.Set<String> names = CaptureObject.of(object).kernelTypeNames();
        assertTrue(names.containsAll(java.util.Set.of("pt_regs", "task_struct", "files_struct", "fdtable", "file",
                "inode", "socket", "sock", "ssl_st")), names.toString());
        byte[] kernel = Files.readAllBytes(vmlinux);
        byte[] subset = KernelBtfSubset.of(kernel, names);
        com.sun.jna.Memory data = new com.sun.jna.Memory(subset.length);
        data.write(0, subset, 0, subset.length);
        com.sun.jna.Pointer parsed = Libbpf.btf__new(data, subset.length);
        assertTrue(parsed != null, "libbpf parses the subset");
        Libbpf.btf__free(parsed);
        System.out.println("kernel BTF " + kernel.length + " bytes, the program's subset " + subset.length);
        assertTrue(subset.length < kernel.length / 4, subset.length + " of " + kernel.length);
        BtfFile full = BtfFile.parse(kernel);
        BtfFile part = BtfFile.parse(subset);
        for (String s : new String[] {"pt_regs", "task_struct", "files_struct", "fdtable", "file", "inode", "socket",
            "sock", "sock_common"}) {
            assertEquals(full.struct(s), part.struct(s), s);
        }
        byte[] user = Files.readAllBytes(CATALOG_BTF);
        java.nio.ByteBuffer outside = java.nio.ByteBuffer.allocateDirect(kernel.length).put(kernel).flip();
        org.junit.jupiter.api.Assertions.assertArrayEquals(subset, KernelBtfSubset.of(outside, names),
                "the subset of the kernel BTF read outside the heap");
        try (BtfMerger.Merged merged = BtfMerger.merge(vmlinux.toString(), names, user)) {
            // the merge reads the kernel BTF outside the heap: the same subset, the library appended
            org.junit.jupiter.api.Assertions.assertArrayEquals(BtfMerger.append(subset, user),
                    Files.readAllBytes(Path.of(merged.path())));
            BtfFile m = BtfFile.parse(Files.readAllBytes(Path.of(merged.path())));
            assertEquals(full.struct("task_struct"), m.struct("task_struct"));
            assertEquals(16, m.struct("ssl_st").orElseThrow().offsetOf("rbio"));
        }
    }

    @Test
    void appendingInJavaGivesWhatLibbpfMerges() throws Exception {
        byte[] user = Files.readAllBytes(CATALOG_BTF);
        byte[] appended = BtfMerger.append(Files.readAllBytes(base), user);
        com.sun.jna.Memory data = new com.sun.jna.Memory(appended.length);
        data.write(0, appended, 0, appended.length);
        com.sun.jna.Pointer parsed = Libbpf.btf__new(data, appended.length);
        assertTrue(parsed != null, "libbpf parses the appended BTF");
        Libbpf.btf__free(parsed);
        BtfFile java = BtfFile.parse(appended);
        BtfFile libbpf;
        try (BtfMerger.Merged merged = BtfMerger.mergeWithLibbpf(base.toString(), user)) {
            libbpf = BtfFile.parse(Files.readAllBytes(Path.of(merged.path())));
        }
        assertEquals(libbpf.typeCount(), java.typeCount());
        for (String s : new String[] {"capture_header", "capture_record", "pt_regs", "ssl_st", "bio_st", "bio_method_st"}) {
            assertEquals(libbpf.struct(s), java.struct(s), s);
        }
    }

    @Test
    void appendingToThisKernelsBtfGivesWhatLibbpfMerges() throws Exception {
        Path vmlinux = Path.of("/sys/kernel/btf/vmlinux");
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.isReadable(vmlinux), "no kernel BTF here");
        byte[] user = Files.readAllBytes(CATALOG_BTF);
        BtfFile java;
        BtfFile libbpf;
        long t0 = System.nanoTime();
        byte[] appended = BtfMerger.append(Files.readAllBytes(vmlinux), user); // no fallback: every kind known
        System.out.println("appended to the kernel BTF in " + (System.nanoTime() - t0) / 1_000_000 + " ms");
        java = BtfFile.parse(appended);
        t0 = System.nanoTime();
        try (BtfMerger.Merged merged = BtfMerger.mergeWithLibbpf(vmlinux.toString(), user)) {
            System.out.println("merged through libbpf in " + (System.nanoTime() - t0) / 1_000_000 + " ms");
            libbpf = BtfFile.parse(Files.readAllBytes(Path.of(merged.path())));
        }
        t0 = System.nanoTime();
        BtfMerger.append(Files.readAllBytes(vmlinux), user);
        System.out.println("appended again in " + (System.nanoTime() - t0) / 1_000_000 + " ms");
        assertEquals(libbpf.typeCount(), java.typeCount());
        for (String s : new String[] {"pt_regs", "task_struct", "sock_common", "ssl_st", "bio_st"}) {
            assertEquals(libbpf.struct(s), java.struct(s), s);
        }
    }

    @Test
    void bytesLibbpfRejectsAreAnIoExceptionNamingTheLibraryBtf() {
        IOException e = assertThrows(IOException.class,
                () -> BtfMerger.merge(base.toString(), new byte[] {(byte) 0x9f, (byte) 0xeb, 1, 0, 24, 0, 0, 0}));
        assertTrue(e.getMessage().startsWith("libbpf rejects the library BTF"), e.getMessage());
    }

    @Test
    void aMissingKernelBtfIsAnIoExceptionNamingThePath() {
        IOException e = assertThrows(IOException.class,
                () -> BtfMerger.merge(tmp.resolve("missing").toString(), new byte[0]));
        assertTrue(e.getMessage().startsWith("cannot parse kernel BTF " + tmp.resolve("missing")), e.getMessage());
    }
}
