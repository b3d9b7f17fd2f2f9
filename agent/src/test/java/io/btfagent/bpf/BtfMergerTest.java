package io.btfagent.bpf;

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
