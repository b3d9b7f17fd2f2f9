package io.btfagent.natives;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class NativeFilesTest {
    private static final String MOUNTINFO = String.join("\n",
            "22 1 254:1 / / rw,relatime shared:1 - ext4 /dev/vda1 rw",
            "30 22 0:27 / /tmp rw,nosuid,nodev,noexec,relatime shared:5 - tmpfs tmpfs rw",
            "31 30 0:28 / /tmp/exec\\040ok rw,relatime shared:6 - tmpfs tmpfs rw",
            "32 22 0:29 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw");

    @Test
    void directoryOnANoexecMountIsNamedWithItsMountPoint() {
        Optional<String> p = NativeFiles.noexecProblem(Path.of("/tmp/btf-agent-0"), MOUNTINFO);
        assertEquals(Optional.of("native.dir /tmp/btf-agent-0 is on /tmp, mounted noexec, so the agent's native "
                + "libraries cannot load from it; set native.dir to a directory on a file system without noexec"), p);
    }

    @Test
    void theLongestCoveringMountDecides() {
        assertEquals(Optional.empty(), NativeFiles.noexecProblem(Path.of("/tmp/exec ok/natives"), MOUNTINFO));
        assertEquals(Optional.empty(), NativeFiles.noexecProblem(Path.of("/var/tmp/x"), MOUNTINFO));
        assertTrue(NativeFiles.noexecProblem(Path.of("/tmp"), MOUNTINFO).isPresent());
        // a sibling whose name merely starts with the mount point is not under it
        assertEquals(Optional.empty(), NativeFiles.noexecProblem(Path.of("/tmpfoo/x"), MOUNTINFO));
    }

    @Test
    void extractedFilesAreOwnerOnlyContentNamedAndReused(@TempDir Path tmp) throws IOException {
        Path dir = tmp.resolve("natives");
        NativeFiles.prepareDir(dir);
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(dir)));
        ClassLoader cl = getClass().getClassLoader();
        Path a = NativeFiles.extract(cl, "fixtures/ssl/libssl.so.3", dir);
        assertTrue(a.getFileName().toString().matches("libssl-[0-9a-f]{16}\\.so\\.3"), a.toString());
        assertEquals("r-x------", PosixFilePermissions.toString(Files.getPosixFilePermissions(a)));
        byte[] expected;
        try (var in = cl.getResourceAsStream("fixtures/ssl/libssl.so.3")) {
            expected = in.readAllBytes();
        }
        assertEquals(0, java.util.Arrays.compare(expected, Files.readAllBytes(a)));
        long modified = Files.getLastModifiedTime(a).toMillis();
        assertEquals(a, NativeFiles.extract(cl, "fixtures/ssl/libssl.so.3", dir));
        assertEquals(modified, Files.getLastModifiedTime(a).toMillis(), "an intact file is reused, not rewritten");
        try (var s = Files.list(dir)) {
            assertEquals(1, s.count(), "no temporary files left behind");
        }
    }

    @Test
    void aDirectoryOthersCanWriteIsRefused(@TempDir Path tmp) throws IOException {
        Path dir = Files.createDirectory(tmp.resolve("shared"));
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxrwxrwx"));
        IOException e = assertThrows(IOException.class, () -> NativeFiles.prepareDir(dir));
        assertTrue(e.getMessage().contains("writable by others (mode 777)"), e.getMessage());
    }

    @Test
    void aMissingResourceIsNamed(@TempDir Path tmp) throws IOException {
        NativeFiles.prepareDir(tmp.resolve("n"));
        IOException e = assertThrows(IOException.class,
                () -> NativeFiles.extract(getClass().getClassLoader(), "no/such/lib.so", tmp.resolve("n")));
        assertEquals("the agent jar lacks no/such/lib.so", e.getMessage());
    }

    @Test
    void dirProblemAcceptsAnOwnerOnlyDirectoryOrOneThatCanBeCreated(@TempDir Path tmp) throws IOException {
        Path dir = Files.createDirectory(tmp.resolve("natives"),
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        assertEquals(Optional.empty(), NativeFiles.dirProblem(dir, dir, NativeFiles.uid()));
        Path absent = tmp.resolve("later/natives");
        assertEquals(Optional.empty(), NativeFiles.dirProblem(absent, absent, NativeFiles.uid()));
        assertTrue(Files.notExists(absent), "nothing is created");
    }

    @Test
    void dirProblemNamesAnotherOwnerAWritableDirectoryAndAFile(@TempDir Path tmp) throws IOException {
        Path dir = Files.createDirectory(tmp.resolve("open"));
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxrwxrwx"));
        assertEquals(Optional.of("native.dir " + dir + " is writable by others (mode 777)"),
                NativeFiles.dirProblem(dir, dir, NativeFiles.uid()));
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
        assertEquals(Optional.of("native.dir " + dir + " belongs to uid " + NativeFiles.uid() + ", not to uid 4242"),
                NativeFiles.dirProblem(dir, dir, "4242"));
        Path file = Files.createFile(tmp.resolve("plain"));
        assertEquals(Optional.of("native.dir " + file + " exists and is not a directory"),
                NativeFiles.dirProblem(file, file, NativeFiles.uid()));
    }
}
