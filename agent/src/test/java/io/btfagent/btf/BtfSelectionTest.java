package io.btfagent.btf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.btfagent.elf.ElfFile;
import io.btfagent.testing.Fixtures;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Every rule of BTF selection, on the checked-in catalog BTF and files in a temp btf.path. */
class BtfSelectionTest {
    private static final String BTF_FILE = "openssl/3.0.19-c0b9959017cf.btf";
    private static final String UNKNOWN_BUILD = "0123456789abcdef0123456789abcdef01234567";
    private static final List<BtfCatalog.Entry> ENTRIES = List.of(
            new BtfCatalog.Entry("openssl", "3.0.19", Fixtures.CATALOG_BUILD_ID, "s", "p", BTF_FILE, "exact-source"),
            new BtfCatalog.Entry("openssl", "3.0.11", "aaaa959017cf64b03131964573944fc72958bb2b", "s", "p", BTF_FILE,
                    "exact-source"));

    @TempDir
    Path userDir;

    private final List<String> debug = new ArrayList<>();

    private BtfCatalog catalog(Path dir) {
        return new BtfCatalog(ENTRIES, dir, getClass().getClassLoader());
    }

    private BtfSelection.Outcome select(BtfCatalog c, String family, String buildId, Optional<String> reported,
            boolean fallback) {
        return BtfSelection.select(c, family, buildId, () -> reported, fallback, debug::add);
    }

    private static byte[] catalogBtf() {
        return Fixtures.bytes(Fixtures.CATALOG_BTF_RESOURCE);
    }

    @Test
    void anExactCatalogBuildIsChosenUnguardedWithoutReadingTheLibrarysVersion() {
        AtomicInteger asked = new AtomicInteger();
        Supplier<Optional<String>> reported = () -> {
            asked.incrementAndGet();
            return Optional.of("9.9.9");
        };
        BtfSelection.Outcome o = BtfSelection.select(catalog(null), "openssl", Fixtures.CATALOG_BUILD_ID, reported,
                true, debug::add);
        BtfSelection.Chosen c = assertInstanceOf(BtfSelection.Chosen.class, o);
        assertEquals("catalog:" + BTF_FILE, c.selection().origin());
        assertEquals("3.0.19", c.selection().version());
        assertFalse(c.guarded());
        assertArrayEquals(catalogBtf(), c.selection().btf());
        assertEquals(0, asked.get(), "the catalog names the version of a build it knows");
    }

    @Test
    void aBtfPathFileForTheBuildComesFirstAndIsGuarded() throws IOException {
        byte[] btf = catalogBtf();
        Path f = Files.write(userDir.resolve(Fixtures.CATALOG_BUILD_ID + ".btf"), btf);
        BtfSelection.Chosen c = assertInstanceOf(BtfSelection.Chosen.class,
                select(catalog(userDir), "openssl", Fixtures.CATALOG_BUILD_ID, Optional.empty(), true));
        assertEquals(f.toString(), c.selection().origin());
        assertEquals("3.0.19", c.selection().version(), "the catalog's version of the build");
        assertTrue(c.guarded(), "a user's file is not trusted blindly for OpenSSL");
    }

    @Test
    void aBtfPathFileServesABuildTheCatalogLacksWithTheLibrarysVersion() throws IOException {
        Files.write(userDir.resolve(UNKNOWN_BUILD + ".btf"), catalogBtf());
        BtfSelection.Chosen c = assertInstanceOf(BtfSelection.Chosen.class,
                select(catalog(userDir), "openssl", UNKNOWN_BUILD, Optional.of("3.0.25"), false));
        assertEquals(userDir.resolve(UNKNOWN_BUILD + ".btf").toString(), c.selection().origin());
        assertEquals("3.0.25", c.selection().version());
        assertTrue(c.guarded());
    }

    @Test
    void aGnutlsBtfPathFileIsTrustedAsThatBuildsForGnutlsHasNoCheck() throws IOException {
        Files.write(userDir.resolve(UNKNOWN_BUILD + ".btf"),
                Files.readAllBytes(Fixtures.CATALOG_DIR.resolve("gnutls/3.7.9-2a74c5f0802d.btf")));
        BtfSelection.Chosen c = assertInstanceOf(BtfSelection.Chosen.class,
                select(catalog(userDir), "gnutls", UNKNOWN_BUILD, Optional.of("3.7.9"), true));
        assertTrue(c.selection().checked());
        assertFalse(c.guarded());
    }

    @Test
    void anUnknownOpensslBuildTakesItsVersionLineUnderTheCheck() {
        BtfSelection.Chosen c = assertInstanceOf(BtfSelection.Chosen.class,
                select(catalog(null), "openssl", UNKNOWN_BUILD, Optional.of("3.0.12"), true));
        assertEquals("catalog:" + BTF_FILE + " (build aaaa959017cf of 3.0.11)", c.selection().origin());
        assertEquals("3.0.12", c.selection().version());
        assertTrue(c.guarded());
    }

    @Test
    void withoutFallbackAnUnknownBuildIsRefusedAndTheRefusalSaysWhatToSupply() {
        BtfSelection.Refused r = assertInstanceOf(BtfSelection.Refused.class,
                select(catalog(null), "openssl", UNKNOWN_BUILD, Optional.of("3.0.12"), false));
        assertEquals(Optional.of("3.0.12"), r.version());
        assertEquals("build-id " + UNKNOWN_BUILD + " is not in the BTF catalog; generate its BTF (native-targets) "
                + "and put it in btf.path as " + UNKNOWN_BUILD + ".btf", r.reason());
    }

    @Test
    void anUnknownBuildOfAnUncoveredLineIsRefusedNamingTheVersionLine() {
        BtfSelection.Refused r = assertInstanceOf(BtfSelection.Refused.class,
                select(catalog(null), "openssl", UNKNOWN_BUILD, Optional.of("3.6.0"), true));
        assertEquals("build-id " + UNKNOWN_BUILD + " is not in the BTF catalog and no catalog build shares its "
                + "version line; generate its BTF (native-targets) and put it in btf.path as " + UNKNOWN_BUILD
                + ".btf", r.reason());
    }

    @Test
    void anUnknownBuildWithoutAVersionIsRefused() {
        BtfSelection.Refused r = assertInstanceOf(BtfSelection.Refused.class,
                select(catalog(null), "openssl", UNKNOWN_BUILD, Optional.empty(), true));
        assertEquals(Optional.of("(version unknown)"), r.version());
    }

    @Test
    void gnutlsHasNoVersionLineFallback() {
        BtfSelection.Refused r = assertInstanceOf(BtfSelection.Refused.class,
                select(catalog(null), "gnutls", UNKNOWN_BUILD, Optional.of("3.0.19"), true));
        assertEquals("build-id " + UNKNOWN_BUILD + " is not in the BTF catalog; generate its BTF (native-targets) "
                + "and put it in btf.path as " + UNKNOWN_BUILD + ".btf", r.reason());
    }

    @Test
    void aCorruptBtfPathFileIsPassedOverNamingTheFileAndWhatIsUsedInstead() throws IOException {
        Path f = Files.write(userDir.resolve(UNKNOWN_BUILD + ".btf"), Arrays.copyOf(catalogBtf(), 100));
        BtfSelection.Chosen c = assertInstanceOf(BtfSelection.Chosen.class,
                select(catalog(userDir), "openssl", UNKNOWN_BUILD, Optional.of("3.0.12"), true));
        assertTrue(c.selection().origin().startsWith("catalog:openssl/3.0."), c.selection().origin());
        assertTrue(c.guarded(), "a version-line BTF is checked record by record");
        assertEquals(Optional.of("btf.path file " + f + " is corrupt (section bounds exceed the file (100 bytes))"),
                c.passedOver());
    }

    @Test
    void aBtfWithoutTheFamilysStructsIsRefusedNamingTheFile() throws IOException {
        Path f = Files.write(userDir.resolve(UNKNOWN_BUILD + ".btf"), objectBtf());
        BtfSelection.Refused r = assertInstanceOf(BtfSelection.Refused.class,
                select(catalog(userDir), "openssl", UNKNOWN_BUILD, Optional.of("9.9.9"), true));
        assertEquals("build-id " + UNKNOWN_BUILD + " is not in the BTF catalog and no catalog build shares its "
                + "version line (btf.path file " + f + " has no struct ssl_st); generate its BTF (native-targets) "
                + "and put it in btf.path as " + UNKNOWN_BUILD + ".btf", r.reason());
    }

    @Test
    void aBtfPathFileThatIsNotBtfOrALinkToADeviceIsPassedOverForTheCatalogsOwn() throws IOException {
        Path f = Files.writeString(userDir.resolve(Fixtures.CATALOG_BUILD_ID + ".btf"), "root:x:0:0::/root:/bin/sh\n");
        BtfSelection.Chosen c = assertInstanceOf(BtfSelection.Chosen.class,
                select(catalog(userDir), "openssl", Fixtures.CATALOG_BUILD_ID, Optional.empty(), true));
        assertEquals("catalog:openssl/3.0.19-c0b9959017cf.btf", c.selection().origin());
        assertEquals(Optional.of("btf.path file " + f + " is not BTF (its first bytes are not the BTF magic 0xeb9f)"),
                c.passedOver());
        Files.delete(f);
        Files.createSymbolicLink(f, Path.of("/dev/zero"));
        c = assertInstanceOf(BtfSelection.Chosen.class,
                select(catalog(userDir), "openssl", Fixtures.CATALOG_BUILD_ID, Optional.empty(), true));
        assertEquals("catalog:openssl/3.0.19-c0b9959017cf.btf", c.selection().origin());
        assertEquals(Optional.of("btf.path file " + f + " is a character device, not a regular file"),
                c.passedOver());
    }

    @Test
    void aDanglingLinkInBtfPathIsPassedOver() throws IOException {
        Path f = Files.createSymbolicLink(userDir.resolve(Fixtures.CATALOG_BUILD_ID + ".btf"), userDir.resolve("gone"));
        BtfSelection.Chosen c = assertInstanceOf(BtfSelection.Chosen.class,
                select(catalog(userDir), "openssl", Fixtures.CATALOG_BUILD_ID, Optional.empty(), true));
        assertEquals(Optional.of("btf.path file " + f + " cannot be read (NoSuchFileException)"), c.passedOver());
    }

    @Test
    void aBtfPathFileLargerThanItsBoundIsPassedOver() throws IOException {
        Path f = userDir.resolve(Fixtures.CATALOG_BUILD_ID + ".btf");
        try (java.io.RandomAccessFile raf = new java.io.RandomAccessFile(f.toFile(), "rw")) {
            raf.write(catalogBtf());
            raf.setLength(BtfCatalog.USER_BTF_BOUND + 1); // sparse
        }
        BtfSelection.Chosen c = assertInstanceOf(BtfSelection.Chosen.class,
                select(catalog(userDir), "openssl", Fixtures.CATALOG_BUILD_ID, Optional.empty(), true));
        assertEquals("catalog:openssl/3.0.19-c0b9959017cf.btf", c.selection().origin());
        assertEquals(Optional.of("btf.path file " + f + " is 16777217 bytes, more than the bound of 16777216 bytes"),
                c.passedOver());
    }

    @Test
    void aBtfPathThatIsNotADirectoryIsNamed() throws IOException {
        assertEquals(Optional.of("is a regular file, not a directory"), BtfCatalog.userDirProblem(Path.of("/etc/passwd")));
        assertEquals(Optional.of("does not exist"), BtfCatalog.userDirProblem(userDir.resolve("none")));
        assertEquals(Optional.empty(), BtfCatalog.userDirProblem(userDir));
    }

    @Test
    void aCatalogThatCannotBeReadIsRefusedWithoutAVersion() {
        BtfCatalog.Entry ghost = new BtfCatalog.Entry("openssl", "9.9.9", "abcd", "s", "p", "openssl/ghost.btf", "x");
        BtfCatalog c = new BtfCatalog(List.of(ghost), null, getClass().getClassLoader());
        BtfSelection.Refused r = assertInstanceOf(BtfSelection.Refused.class,
                select(c, "openssl", "abcd", Optional.empty(), true));
        assertEquals(Optional.empty(), r.version());
        assertEquals("BTF catalog index names openssl/ghost.btf but the jar lacks it", r.reason());
    }

    @Test
    void aVersionLineBtfThatCannotBeReadIsRefusedAndSaidAtDebugLevel() {
        BtfCatalog.Entry ghost = new BtfCatalog.Entry("openssl", "3.0.1", "abcd959017cf64b03131964573944fc72958bb2b", "s", "p",
                "openssl/ghost.btf", "x");
        BtfCatalog c = new BtfCatalog(List.of(ghost), null, getClass().getClassLoader());
        assertInstanceOf(BtfSelection.Refused.class, select(c, "openssl", UNKNOWN_BUILD, Optional.of("3.0.2"), true));
        assertEquals(List.of("no version-line BTF: BTF catalog index names openssl/ghost.btf but the jar lacks it"),
                debug);
    }

    @Test
    void catalogBtfIsUsable() {
        assertEquals(Optional.empty(), BtfSelection.unusable("openssl", Fixtures.bytes(Fixtures.CATALOG_BTF_RESOURCE)));
    }

    @Test
    void btfWithoutOpensslStructsIsUnusable() throws IOException {
        byte[] objectBtf = ElfFile.of(Fixtures.bytes(Fixtures.BPF_OBJECT_RESOURCE), "object").section(".BTF")
                .orElseThrow();
        assertEquals(Optional.of("has no struct ssl_st"), BtfSelection.unusable("openssl", objectBtf));
    }

    @Test
    void corruptBtfIsUnusable() {
        assertEquals(Optional.of("is corrupt (too short for a BTF header (0 bytes))"),
                BtfSelection.unusable("openssl", new byte[0]));
        byte[] cut = Arrays.copyOf(Fixtures.bytes(Fixtures.CATALOG_BTF_RESOURCE), 100);
        assertEquals(Optional.of("is corrupt (section bounds exceed the file (100 bytes))"), BtfSelection.unusable("openssl", cut));
    }

    @Test
    void aGnutlsBtfMustDescribeTheSession() {
        assertEquals(Optional.of("has no struct gnutls_session_int"),
                BtfSelection.unusable("gnutls", Fixtures.bytes(Fixtures.CATALOG_BTF_RESOURCE)));
    }

    /** The BPF object's own BTF: parseable, without the structs of any TLS library. */
    private static byte[] objectBtf() throws IOException {
        return ElfFile.of(Fixtures.bytes(Fixtures.BPF_OBJECT_RESOURCE), "object").section(".BTF").orElseThrow();
    }
}
