package io.btfagent.tls;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.btfagent.testing.Fixtures;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class LibraryScannerTest {
    /** Shaped like /proc/<pid>/maps: the pathname column is padded, and may contain spaces. */
    private static final String MAPS = String.join("\n",
            "55d0c0a00000-55d0c0a01000 r--p 00000000 08:01 917505                     /usr/lib/jvm/bin/java",
            "7f1c2a000000-7f1c2a01f000 r--p 00000000 08:01 1311                       /usr/lib/x86_64-linux-gnu/libssl.so.3",
            "7f1c2a01f000-7f1c2a07d000 r-xp 0001f000 08:01 1311                       /usr/lib/x86_64-linux-gnu/libssl.so.3",
            "7f1c2a07d000-7f1c2a09a000 r--p 0007d000 08:01 1311                       /usr/lib/x86_64-linux-gnu/libssl.so.3",
            "7f1c2a09a000-7f1c2a0a4000 rw-p 0009a000 08:01 1311                       /usr/lib/x86_64-linux-gnu/libssl.so.3",
            "7f1c2a100000-7f1c2a300000 r-xp 00000000 08:01 1312                       /usr/lib/x86_64-linux-gnu/libcrypto.so.3",
            "7f1c2b000000-7f1c2b020000 r-xp 00000000 08:01 2222                       /opt/legacy/lib/libssl.so.1.1",
            "7f1c2b020000-7f1c2b030000 r--p 00020000 08:01 2222                       /opt/legacy/lib/libssl.so.1.1",
            "7f1c2c000000-7f1c2c010000 r-xp 00000000 08:01 3333                       /usr/lib64/libssl3.so",
            "7f1c2d000000-7f1c2d010000 r-xp 00000000 08:01 4444                       /tmp/old/libssl.so.3 (deleted)",
            "7f1c2e000000-7f1c2e010000 rw-p 00000000 00:00 0 ",
            "7f1c2e010000-7f1c2e020000 rw-p 00000000 00:00 0",
            "7f1c2e020000-7f1c2e030000 rw-p 00000000 00:00 0                          [heap]",
            "7f1c2f000000-7f1c2f010000 r-xp 00000000 08:01 5555                       /usr/lib/libsslfoo.so",
            "7f1c2f010000-7f1c2f020000 r-xp 00000000 08:01 5556                       /usr/lib/libssl.so.3.bak",
            "7f1c2f020000-7f1c2f030000 r-xp 00000000 08:01 5557                       /usr/lib/libssl.so.3a",
            "7f1c30000000-7f1c30010000 r-xp 00000000 08:01 6666                       /opt/my app/lib/libssl.so.3",
            "7f1c31000000-7f1c31010000 r-xp 00000000 08:01 7777                       /opt/dev/lib/libssl.so",
            "7ffd1c000000-7ffd1c021000 rw-p 00000000 00:00 0                          [stack]",
            "ffffffffff600000-ffffffffff601000 --xp 00000000 00:00 0                  [vsyscall]",
            "");

    @TempDir
    Path dir;

    @Test
    void libsslNamePattern() {
        for (String yes : List.of("libssl.so", "libssl.so.3", "libssl.so.1.1", "libssl.so.1.0.0", "libssl.so.10")) {
            assertTrue(LibraryScanner.LIBSSL.matcher(yes).matches(), yes);
        }
        for (String no : List.of("libssl3.so", "libsslfoo.so", "libssl.so.", "libssl.so.3a", "libssl.so.3.bak",
                "libssl.a", "libcrypto.so.3", "xlibssl.so.3")) {
            assertFalse(LibraryScanner.LIBSSL.matcher(no).matches(), no);
        }
    }

    @Test
    void onDiskFindsLibsslFilesInDirectoriesAndResolvesLinks() throws IOException {
        Path real = Files.copy(Fixtures.path(Fixtures.FAKE_LIBSSL), dir.resolve("libssl.so.3"));
        Files.createSymbolicLink(dir.resolve("libssl.so"), dir.resolve("libssl.so.3"));
        Files.copy(Fixtures.path(Fixtures.FAKE_LIBSSL), dir.resolve("libssl3.so"));
        Files.copy(Fixtures.path(Fixtures.FAKE_LIBCRYPTO), dir.resolve("libcrypto.so.3"));
        Files.createSymbolicLink(dir.resolve("libssl.so.1.1"), dir.resolve("missing-target"));
        Files.createDirectory(dir.resolve("libssl.so.9"));

        List<LibraryScanner.LibraryFile> found = LibraryScanner.onDisk(List.of(dir, dir.resolve("absent")));

        Path realPath = real.toRealPath();
        String key = LibraryScanner.identify(real).orElseThrow().fileKey();
        // sorted by name: libssl.so (link), libssl.so.3; the dangling link and the directory are skipped
        assertEquals(List.of(new LibraryScanner.LibraryFile(realPath, key), new LibraryScanner.LibraryFile(realPath, key)),
                found);
    }

    @Test
    void onDiskTakesAFileGivenByPathWhateverItsName() throws IOException {
        Path custom = Files.copy(Fixtures.path(Fixtures.FAKE_LIBSSL), dir.resolve("custom-ssl.so"));
        List<LibraryScanner.LibraryFile> found = LibraryScanner.onDisk(List.of(custom));
        assertEquals(1, found.size());
        assertEquals(custom.toRealPath(), found.get(0).path());
    }

    @Test
    void twoPathsToOneFileShareAFileKey() throws IOException {
        Path a = Files.copy(Fixtures.path(Fixtures.FAKE_LIBSSL), dir.resolve("a.so"));
        Path b = Files.createLink(dir.resolve("b.so"), a);
        Path c = Files.copy(a, dir.resolve("c.so"));
        String keyA = LibraryScanner.identify(a).orElseThrow().fileKey();
        assertEquals(keyA, LibraryScanner.identify(b).orElseThrow().fileKey());
        assertFalse(keyA.equals(LibraryScanner.identify(c).orElseThrow().fileKey()));
        assertEquals(Optional.empty(), LibraryScanner.identify(dir.resolve("nothing.so")));
        assertEquals(Optional.empty(), LibraryScanner.identify(dir));
    }

    @Test
    void mappedFilesAreOnePerInodeDeletedOnesIncludedWithTheirRange() {
        List<LibraryScanner.Mapping> files = LibraryScanner.mappedFiles(MAPS);
        LibraryScanner.Mapping libssl = files.stream().filter(m -> m.inode() == 1311).findFirst().orElseThrow();
        assertEquals("/usr/lib/x86_64-linux-gnu/libssl.so.3", libssl.name());
        assertEquals("7f1c2a000000-7f1c2a01f000", libssl.range(), "the first range of the file");
        assertTrue(libssl.executable(), "one of its ranges is r-xp");
        assertFalse(libssl.deleted());
        assertEquals(Path.of("/proc/self/map_files/7f1c2a000000-7f1c2a01f000"), libssl.mapFile());
        LibraryScanner.Mapping deleted = files.stream().filter(m -> m.inode() == 4444).findFirst().orElseThrow();
        assertEquals("/tmp/old/libssl.so.3", deleted.name(), "without the kernel's \" (deleted)\"");
        assertTrue(deleted.deleted());
        assertEquals(1, files.stream().filter(m -> m.inode() == 1311).count());
        assertTrue(files.stream().noneMatch(m -> m.inode() == 0), "anonymous mappings are no files");
        assertEquals(11, files.size());
    }

    @Test
    void theDynamicLinkerIsTheMappedLdLinuxFile() {
        String maps = String.join("\n",
                "55d0c0a00000-55d0c0a01000 r--p 00000000 08:01 917505                     /usr/lib/jvm/bin/java",
                "7f1c2a000000-7f1c2a01f000 r-xp 00000000 08:01 1311                       /usr/lib/x86_64-linux-gnu/libssl.so.3",
                "7f1c3a000000-7f1c3a001000 r--p 00000000 08:01 1400                       /usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
                "7f1c3a001000-7f1c3a027000 r-xp 00001000 08:01 1400                       /usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2",
                "");
        assertEquals(Optional.of("/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"), LibraryScanner.dynamicLinker(maps));
        assertEquals(Optional.empty(), LibraryScanner.dynamicLinker(MAPS), "a static binary maps none");
    }

    @Test
    void mappedLibrariesTellFamiliesByNameAndReportADeletedFileTheyCannotReach() throws IOException {
        Path libssl = Files.copy(Fixtures.path(Fixtures.FAKE_LIBSSL), dir.resolve("libssl.so.3"));
        Path other = Files.copy(Fixtures.path(Fixtures.FAKE_LIBSSL), dir.resolve("libother.so"));
        String maps = String.join("\n",
                "10000-11000 r-xp 00000000 08:01 91 " + libssl,
                "20000-21000 r-xp 00000000 08:01 92 " + other,
                "30000-31000 r-xp 00000000 08:01 93 " + dir.resolve("libgnutls.so.30") + " (deleted)", "");
        List<LibraryScanner.LibraryFile> found = new MappedLibraries().scan(maps);
        // this process has no such ranges, so /proc/self/map_files does not open them: a present
        // file is reached by its name, a deleted one not at all
        assertEquals(2, found.size(), found.toString());
        assertEquals("openssl", found.get(0).family());
        assertEquals(libssl, found.get(0).attachPath());
        assertEquals(LibraryScanner.identify(libssl).orElseThrow().fileKey(), found.get(0).fileKey());
        assertEquals("gnutls", found.get(1).family());
        assertTrue(found.get(1).deleted());
        assertEquals(null, found.get(1).attachPath());
    }

    @Test
    void aLibraryMappedOnlyForReadingIsNotLoaded() throws IOException {
        Path libssl = Files.copy(Fixtures.path(Fixtures.FAKE_LIBSSL), dir.resolve("libssl.so.3"));
        // how FileChannel.map(READ_ONLY) of the file shows (the agent's ELF reader does that)
        String read = "10000-11000 r--s 00000000 08:01 91 " + libssl + "\n";
        assertEquals(List.of(), new MappedLibraries().scan(read));
        List<LibraryScanner.LibraryFile> loaded = new MappedLibraries()
                .scan(read + "20000-21000 r-xp 00001000 08:01 91 " + libssl + "\n");
        assertEquals(1, loaded.size(), loaded.toString());
        assertEquals(libssl, loaded.get(0).attachPath());
    }

    @Test
    void aFifoNamedLikeALibraryIsSkippedAndSaidAndAHugeSparseOneIsRefusedWithoutBeingRead(@TempDir Path d)
            throws Exception {
        Path fifo = d.resolve("libssl.so.3");
        assertEquals(0, new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor());
        Path sparse = d.resolve("libgnutls.so.30");
        try (java.io.RandomAccessFile f = new java.io.RandomAccessFile(sparse.toFile(), "rw")) {
            f.setLength(4L << 30);
        }
        List<String> said = new java.util.ArrayList<>();
        List<LibraryScanner.LibraryFile> found = LibraryScanner.onDisk(List.of(d), (p, why) -> said.add(p + " " + why));
        assertEquals(List.of(fifo + " not a regular file"), said);
        assertEquals(List.of(sparse), found.stream().map(LibraryScanner.LibraryFile::path).toList());
        long t0 = System.nanoTime();
        IOException e = org.junit.jupiter.api.Assertions.assertThrows(IOException.class, () -> TlsLibrary.gnutls(sparse));
        assertEquals(sparse + " is not an ELF file", e.getMessage());
        assertTrue(System.nanoTime() - t0 < 2_000_000_000L, "4 GiB of nothing are not read");
    }
}
