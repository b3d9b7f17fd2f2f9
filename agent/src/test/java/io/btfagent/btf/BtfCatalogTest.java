package io.btfagent.btf;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.btfagent.testing.Fixtures;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BtfCatalogTest {
    private static final BtfCatalog.Entry BOOKWORM = new BtfCatalog.Entry("openssl", "3.0.19",
            Fixtures.CATALOG_BUILD_ID, "bookworm-security", "libssl3=3.0.19-1~deb12u2",
            "openssl/3.0.19-c0b9959017cf.btf", "exact-source");

    @TempDir
    Path userDir;

    private static List<BtfCatalog.Entry> realIndex() throws IOException {
        return BtfCatalog.parseIndex(Files.readString(Fixtures.CATALOG_DIR.resolve("index.tsv")));
    }

    private static byte[] bundledBtf() throws IOException {
        return Files.readAllBytes(Fixtures.CATALOG_DIR.resolve("openssl/3.0.19-c0b9959017cf.btf"));
    }

    private BtfCatalog catalog(Path dir) throws IOException {
        return new BtfCatalog(realIndex(), dir, BtfCatalogTest.class.getClassLoader());
    }

    @Test
    void realIndexParsesAndHoldsTheHostBuild() throws IOException {
        List<BtfCatalog.Entry> entries = realIndex();
        assertTrue(entries.contains(BOOKWORM), entries.toString());
        for (BtfCatalog.Entry e : entries) {
            assertTrue(e.buildId().matches("[0-9a-f]{40}"), e.toString());
            assertTrue(Files.isRegularFile(Fixtures.CATALOG_DIR.resolve(e.btf())), "BTF file of " + e);
        }
        assertEquals(entries.size(), entries.stream().map(BtfCatalog.Entry::buildId).distinct().count(),
                "one entry per build");
    }

    @Test
    void parseSkipsHeaderCommentsAndBlankLinesAndLowerCasesBuildIds() throws IOException {
        String tsv = "lib\tversion\tbuild_id\tsuite\tpackage\tbtf\tproof\r\n"
                + "# a comment\n"
                + "\n"
                + "openssl\t1.1.1w\tABCDEF01\tbullseye\tlibssl1.1=1.1.1w-0\topenssl/x.btf\texact-source\r\n";
        assertEquals(List.of(new BtfCatalog.Entry("openssl", "1.1.1w", "abcdef01", "bullseye", "libssl1.1=1.1.1w-0",
                "openssl/x.btf", "exact-source")), BtfCatalog.parseIndex(tsv));
        assertEquals(List.of(), BtfCatalog.parseIndex("lib\tversion\tbuild_id\tsuite\tpackage\tbtf\tproof\n"));
    }

    @Test
    void rowWithSixFieldsNamesItsLine() {
        String tsv = "lib\tversion\tbuild_id\tsuite\tpackage\tbtf\tproof\n"
                + "openssl\t3.0.19\tc0b9\tbookworm\tlibssl3\topenssl/a.btf\texact-source\n"
                + "openssl\t3.0.20\tc0ba\tbookworm\tlibssl3\topenssl/b.btf\n";
        IOException e = assertThrows(IOException.class, () -> BtfCatalog.parseIndex(tsv));
        assertEquals("BTF catalog index line 3 has 6 fields, expected 7", e.getMessage());
    }

    @Test
    void bundledCatalogIsOnTheClasspath() throws IOException {
        BtfCatalog c = BtfCatalog.bundled(null);
        assertEquals(realIndex(), c.entries());
        assertEquals(Optional.of(BOOKWORM), c.entry("openssl", Fixtures.CATALOG_BUILD_ID));
        assertEquals(Optional.empty(), c.entry("gnutls", Fixtures.CATALOG_BUILD_ID));
    }

    @Test
    void bundledBuildIsSelectedFromTheCatalog() throws IOException {
        BtfCatalog.Selection s = catalog(null).select("openssl", Fixtures.CATALOG_BUILD_ID, "hint").orElseThrow();
        assertEquals("catalog:openssl/3.0.19-c0b9959017cf.btf", s.origin());
        assertEquals("3.0.19", s.version(), "the catalog's version, not the hint");
        assertArrayEquals(bundledBtf(), s.btf());
    }

    @Test
    void userFileIsPreferredOverTheBundledOne() throws IOException {
        byte[] mine = emptyBtf(42);
        Path f = Files.write(userDir.resolve(Fixtures.CATALOG_BUILD_ID + ".btf"), mine);
        BtfCatalog.Selection s = catalog(userDir).select("openssl", Fixtures.CATALOG_BUILD_ID, "3.0.19-custom")
                .orElseThrow();
        assertEquals(f.toString(), s.origin());
        assertEquals("3.0.19-custom", s.version(), "a user file carries no version: the library's own is used");
        assertArrayEquals(mine, s.btf());
    }

    @Test
    void userDirWithoutThatBuildFallsBackToTheBundledOne() throws IOException {
        Files.write(userDir.resolve("0000000000000000000000000000000000000000.btf"), new byte[] {1});
        Files.createDirectory(userDir.resolve(Fixtures.CATALOG_BUILD_ID + ".btf.d"));
        BtfCatalog.Selection s = catalog(userDir).select("openssl", Fixtures.CATALOG_BUILD_ID, "hint").orElseThrow();
        assertEquals("catalog:openssl/3.0.19-c0b9959017cf.btf", s.origin());
        assertArrayEquals(bundledBtf(), s.btf());
    }

    @Test
    void userFileServesABuildTheCatalogLacks() throws IOException {
        String buildId = "0123456789abcdef0123456789abcdef01234567";
        Files.write(userDir.resolve(buildId + ".btf"), emptyBtf(7));
        BtfCatalog.Selection s = catalog(userDir).select("openssl", buildId, "3.5.0").orElseThrow();
        assertEquals(userDir.resolve(buildId + ".btf").toString(), s.origin());
        assertEquals("3.5.0", s.version());
        assertArrayEquals(emptyBtf(7), s.btf());
    }

    @Test
    void unknownBuildIsEmpty() throws IOException {
        assertEquals(Optional.empty(), catalog(userDir).select("openssl", "ffffffffffffffffffffffffffffffffffffffff", "x"));
        assertEquals(Optional.empty(), catalog(null).select("openssl", "ffffffffffffffffffffffffffffffffffffffff", "x"));
        assertEquals(Optional.empty(), catalog(null).select("gnutls", Fixtures.CATALOG_BUILD_ID, "x"),
                "the library family must match too");
    }

    @Test
    void indexNamingAMissingFileIsAnIOException() {
        BtfCatalog.Entry ghost = new BtfCatalog.Entry("openssl", "9.9.9", "abcd", "suite", "pkg", "openssl/ghost.btf",
                "exact-source");
        BtfCatalog c = new BtfCatalog(List.of(ghost), null, BtfCatalogTest.class.getClassLoader());
        IOException e = assertThrows(IOException.class, () -> c.select("openssl", "abcd", "x"));
        assertEquals("BTF catalog index names openssl/ghost.btf but the jar lacks it", e.getMessage());
    }

    @Test
    void bundledBtfParsesAndMatchesItsIndexRow() throws IOException, BtfFormatException {
        for (BtfCatalog.Entry e : BtfCatalog.bundled(null).entries()) {
            byte[] btf = catalog(null).select(e.lib(), e.buildId(), "x").orElseThrow().btf();
            BtfFile parsed = BtfFile.parse(btf);
            assertTrue(parsed.struct(e.lib().equals("gnutls") ? "gnutls_session_int" : "ssl_st").isPresent(), e.btf());
            assertTrue(e.btf().startsWith(e.lib() + "/" + e.version() + "-" + e.buildId().substring(0, 12)),
                    e.btf());
        }
    }

    @Test
    void sameVersionLineTakesTheNearestBuildOfThatLineAndMarksItChecked() throws Exception {
        java.util.List<BtfCatalog.Entry> entries = java.util.List.of(
                new BtfCatalog.Entry("openssl", "3.0.19", "c0b9959017cf64b03131964573944fc72958bb2b", "s", "p",
                        "openssl/3.0.19-c0b9959017cf.btf", "exact-source"),
                new BtfCatalog.Entry("openssl", "3.0.11", "aaaa959017cf64b03131964573944fc72958bb2b", "s", "p",
                        "openssl/3.0.19-c0b9959017cf.btf", "exact-source"),
                new BtfCatalog.Entry("openssl", "3.5.4", "bbbb959017cf64b03131964573944fc72958bb2b", "s", "p",
                        "openssl/3.0.19-c0b9959017cf.btf", "exact-source"));
        BtfCatalog c = new BtfCatalog(entries, null, getClass().getClassLoader());
        BtfCatalog.Selection s = c.sameVersionLine("openssl", "3.0.20").orElseThrow();
        assertTrue(s.checked());
        assertEquals("3.0.20", s.version());
        assertEquals("catalog:openssl/3.0.19-c0b9959017cf.btf (build c0b9959017cf of 3.0.19)", s.origin());
        assertEquals("catalog:openssl/3.0.19-c0b9959017cf.btf (build aaaa959017cf of 3.0.11)",
                c.sameVersionLine("openssl", "3.0.12").orElseThrow().origin());
        assertTrue(c.sameVersionLine("openssl", "3.6.0").isEmpty(), "no 3.6 build in the catalog");
        assertTrue(c.sameVersionLine("gnutls", "3.0.19").isEmpty(), "another library");
        assertTrue(c.sameVersionLine("openssl", "unknown").isEmpty());
        assertTrue(c.select("openssl", "c0b9959017cf64b03131964573944fc72958bb2b", "3.0.19").orElseThrow().checked()
                == false, "an exact build is trusted");
    }

    /** A BTF header with no types and a string section of one byte, {@code last}. */
    static byte[] emptyBtf(int last) {
        return new byte[] {(byte) 0x9f, (byte) 0xeb, 1, 0, 24, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0,
            (byte) last};
    }
}
