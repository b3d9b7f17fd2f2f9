package io.btfagent.elf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.btfagent.testing.Fixtures;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Expected values come from binutils run on the checked-in fixture (readelf -n, --dyn-syms, -S),
 * not from the parser under test.
 */
class ElfFileTest {
    private static final Pattern OPENSSL_VERSION = Pattern.compile("OpenSSL (\\d+\\.\\d+\\.\\d+[a-z]*) ");

    @TempDir
    Path dir;

    private static ElfFile fakeLibssl() throws IOException {
        return ElfFile.open(Fixtures.path(Fixtures.FAKE_LIBSSL));
    }

    @Test
    void buildIdIsTheHexReadelfPrints() throws IOException {
        assertEquals(Optional.of(Fixtures.FAKE_LIBSSL_BUILD_ID), fakeLibssl().buildId());
        assertEquals(Optional.of(Fixtures.FAKE_LIBSSL_NO_WRITE_BUILD_ID),
                ElfFile.open(Fixtures.path(Fixtures.FAKE_LIBSSL_NO_WRITE)).buildId());
    }

    @Test
    void fileLinkedWithoutBuildIdHasNone() throws IOException {
        assertEquals(Optional.empty(), ElfFile.open(Fixtures.path(Fixtures.FAKE_LIBSSL_NO_BUILD_ID)).buildId());
    }

    @Test
    void dynamicSymbolsAreExactlyTheDefinedExports() throws IOException {
        // readelf --dyn-syms: the defined (Ndx != UND) entries.
        assertEquals(Set.of("SSL_read", "SSL_read_ex", "SSL_write", "SSL_write_ex", "OpenSSL_version_text",
                "fake_openssl_version_text"), fakeLibssl().dynamicSymbols());
    }

    @Test
    void importedAndStaticSymbolsAreNotExports() throws IOException {
        Set<String> symbols = fakeLibssl().dynamicSymbols();
        assertFalse(symbols.contains("strlen"), "strlen is imported from libc (Ndx UND)");
        assertFalse(symbols.contains("__cxa_finalize"));
        assertFalse(symbols.contains("__gmon_start__"));
        assertFalse(symbols.contains("fake_internal_counter"), "static, not in .dynsym at all");
        assertFalse(symbols.contains(""));
    }

    @Test
    void libraryWithoutSslWriteDoesNotExportIt() throws IOException {
        Set<String> symbols = ElfFile.open(Fixtures.path(Fixtures.FAKE_LIBSSL_NO_WRITE)).dynamicSymbols();
        assertFalse(symbols.contains("SSL_write"));
        assertTrue(symbols.contains("SSL_write_ex"));
    }

    @Test
    void findStringReturnsTheFirstGroup() throws IOException {
        assertEquals(Optional.of("9.8.7"), fakeLibssl().findString(OPENSSL_VERSION));
        assertEquals(Optional.of("1.2.3z"), ElfFile.open(Fixtures.path(Fixtures.FAKE_LIBCRYPTO)).findString(OPENSSL_VERSION));
        assertEquals(Optional.empty(), fakeLibssl().findString(Pattern.compile("GnuTLS (\\d+)")));
    }

    @Test
    void textSectionIsTheBytesReadelfLocates() throws IOException {
        // readelf -SW: [12] .text PROGBITS 0000000000001050 001050 000102
        byte[] file = Files.readAllBytes(Fixtures.path(Fixtures.FAKE_LIBSSL));
        Optional<byte[]> text = fakeLibssl().section(".text");
        assertTrue(text.isPresent());
        assertEquals(0x102, text.get().length);
        assertArrayEquals(Arrays.copyOfRange(file, 0x1050, 0x1050 + 0x102), text.get());
    }

    @Test
    void buildIdNoteSectionHoldsTheId() throws IOException {
        // readelf -SW: [1] .note.gnu.build-id NOTE 0000000000000238 000238 000024: 16-byte header + 20-byte id.
        byte[] note = fakeLibssl().section(".note.gnu.build-id").orElseThrow();
        assertEquals(0x24, note.length);
        assertEquals(Fixtures.FAKE_LIBSSL_BUILD_ID,
                java.util.HexFormat.of().formatHex(Arrays.copyOfRange(note, 16, 36)));
    }

    @Test
    void missingSectionIsEmpty() throws IOException {
        assertEquals(Optional.empty(), fakeLibssl().section(".BTF"));
        assertEquals(Optional.empty(), fakeLibssl().section(".tex"), "names match exactly, not by prefix");
    }

    @Test
    void inMemoryParseMatchesFileParse() throws IOException {
        byte[] bytes = Files.readAllBytes(Fixtures.path(Fixtures.FAKE_LIBSSL));
        ElfFile mem = ElfFile.of(bytes, "fake libssl");
        assertEquals(Path.of("fake libssl"), mem.path());
        assertEquals(Optional.of(Fixtures.FAKE_LIBSSL_BUILD_ID), mem.buildId());
        assertEquals(fakeLibssl().dynamicSymbols(), mem.dynamicSymbols());
    }

    @Test
    void textFileIsRejectedNamingTheFile() throws IOException {
        Path f = dir.resolve("libssl.so");
        Files.writeString(f, "/* GNU ld script */\nINPUT(libssl.so.3)\n" + "x".repeat(100));
        IOException e = assertThrows(IOException.class, () -> ElfFile.open(f));
        assertEquals(f + " is not an ELF file", e.getMessage());
    }

    @Test
    void emptyAndShortFilesAreRejected() throws IOException {
        Path empty = Files.createFile(dir.resolve("empty.so"));
        assertEquals(empty + " is not an ELF file", assertThrows(IOException.class, () -> ElfFile.open(empty)).getMessage());

        Path shortElf = dir.resolve("short.so");
        Files.write(shortElf, Arrays.copyOf(Files.readAllBytes(Fixtures.path(Fixtures.FAKE_LIBSSL)), 63));
        assertEquals(shortElf + " is not an ELF file",
                assertThrows(IOException.class, () -> ElfFile.open(shortElf)).getMessage());
    }

    @Test
    void elf32AndBigEndianAreRejected() throws IOException {
        byte[] bytes = Files.readAllBytes(Fixtures.path(Fixtures.FAKE_LIBSSL));
        byte[] elf32 = bytes.clone();
        elf32[4] = 1; // ELFCLASS32
        Path f32 = dir.resolve("elf32.so");
        Files.write(f32, elf32);
        assertEquals(f32 + " is not a 64-bit little-endian ELF file",
                assertThrows(IOException.class, () -> ElfFile.open(f32)).getMessage());

        byte[] be = bytes.clone();
        be[5] = 2; // ELFDATA2MSB
        assertEquals("be.so is not a 64-bit little-endian ELF file",
                assertThrows(IOException.class, () -> ElfFile.of(be, "be.so")).getMessage());
        assertEquals("tiny is not a 64-bit little-endian ELF file",
                assertThrows(IOException.class, () -> ElfFile.of(new byte[] {0x7f, 'E', 'L', 'F'}, "tiny")).getMessage());
    }

    @Test
    void missingFileIsAnIOException() {
        assertThrows(IOException.class, () -> ElfFile.open(dir.resolve("absent.so")));
    }

    @Test
    void aSymbolTableWithZeroEntrySizeIsSkippedNotLoopedOn() throws IOException {
        byte[] bytes = java.nio.file.Files.readAllBytes(Fixtures.path(Fixtures.FAKE_LIBSSL));
        java.nio.ByteBuffer b = java.nio.ByteBuffer.wrap(bytes).order(java.nio.ByteOrder.LITTLE_ENDIAN);
        long shoff = b.getLong(40);
        int shnum = Short.toUnsignedInt(b.getShort(60));
        int patched = 0;
        for (int i = 0; i < shnum; i++) {
            int sh = (int) (shoff + 64L * i);
            if (b.getInt(sh + 4) == 11) { // SHT_DYNSYM
                b.putLong(sh + 56, 0); // sh_entsize
                patched++;
            }
        }
        assertEquals(1, patched);
        ElfFile elf = ElfFile.of(bytes, "zero-entsize");
        assertTimeoutPreemptively(java.time.Duration.ofSeconds(5),
                () -> assertEquals(java.util.Set.of(), elf.dynamicSymbols()));
    }

    @Test
    void functionFileOffsetsComeFromTheStaticSymbolTableLocalOnesIncluded() throws IOException {
        // readelf -sW: SSL_write GLOBAL FUNC 0x1124, frame_dummy LOCAL FUNC 0x1100 (in .text, whose
        // address and file offset are both 0x1050), fake_internal_counter a LOCAL OBJECT
        ElfFile elf = fakeLibssl();
        assertTrue(elf.hasStaticSymbolTable());
        assertEquals(java.util.Map.of("SSL_write", java.util.List.of(0x1124L), "frame_dummy", java.util.List.of(0x1100L)),
                elf.functionFileOffsets(Set.of("SSL_write", "frame_dummy", "fake_internal_counter", "absent")));
    }
}
