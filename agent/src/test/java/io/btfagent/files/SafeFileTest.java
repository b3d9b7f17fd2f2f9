package io.btfagent.files;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SafeFileTest {
    @TempDir
    Path dir;

    private final List<String> notices = new ArrayList<>();

    /** Java cannot set the sticky bit. */
    static void chmod(String mode, Path p) throws IOException {
        try {
            Process c = new ProcessBuilder("chmod", mode, p.toString()).inheritIO().start();
            assertTrue(c.waitFor(30, TimeUnit.SECONDS));
            assertEquals(0, c.exitValue());
        } catch (InterruptedException e) {
            throw new IOException(e);
        }
    }

    static String mode(Path p) throws IOException {
        return PosixFilePermissions.toString(Files.getPosixFilePermissions(p, LinkOption.NOFOLLOW_LINKS));
    }

    private static int uidOf(Path p) throws IOException {
        return (Integer) Files.getAttribute(p, "unix:uid", LinkOption.NOFOLLOW_LINKS);
    }

    private void append(Path file, String text) throws IOException {
        try (FileChannel ch = SafeFile.openAppend(file, notices::add)) {
            ch.write(ByteBuffer.wrap(text.getBytes(StandardCharsets.US_ASCII)));
        }
    }

    @Test
    void newFileIsOwnerOnlyAndMissingDirectoriesAre0700() throws IOException {
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path file = dir.resolve("a/b/events.jsonl");
        append(file, "one\n");
        append(file, "two\n");
        assertEquals("one\ntwo\n", Files.readString(file));
        assertEquals("rw-------", mode(file));
        assertEquals("rwx------", mode(dir.resolve("a")));
        assertEquals("rwx------", mode(dir.resolve("a/b")));
        assertEquals("rwxr-xr-x", mode(dir), "an existing directory is left as it is");
        assertEquals(List.of(), notices);
    }

    @Test
    void fileIs0600WhateverTheUmask() throws Exception {
        for (String umask : new String[] {"0000", "0277", "0077"}) {
            Path file = dir.resolve("umask-" + umask + "/events.jsonl");
            String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
            Process p = new ProcessBuilder("sh", "-c", "umask " + umask + " && exec \"$0\" -cp \"$1\" "
                    + SafeFileOpen.class.getName() + " \"$2\"", java, System.getProperty("java.class.path"),
                    file.toString()).redirectErrorStream(true).start();
            assertTrue(p.waitFor(60, TimeUnit.SECONDS));
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertEquals(0, p.exitValue(), out);
            assertEquals("", out);
            assertEquals("x\n", Files.readString(file));
            assertEquals("rw-------", mode(file), "umask " + umask);
            assertEquals("rwx------", mode(file.getParent()), "umask " + umask);
        }
    }

    @Test
    void symlinkAtThePathIsRefusedAndItsTargetUntouched() throws IOException {
        Path target = dir.resolve("elsewhere");
        Files.writeString(target, "precious\n");
        Path link = Files.createSymbolicLink(dir.resolve("events.jsonl"), target);
        IOException e = assertThrows(IOException.class, () -> append(link, "secret\n"));
        assertEquals(link + " is a symbolic link; remove it; captured data is never written through a link",
                e.getMessage());
        assertEquals("precious\n", Files.readString(target));
    }

    @Test
    void danglingSymlinkIsRefusedAndNothingIsCreatedWhereItPoints() throws IOException {
        Path target = dir.resolve("would-be-created");
        Path link = Files.createSymbolicLink(dir.resolve("events.jsonl"), target);
        IOException e = assertThrows(IOException.class, () -> append(link, "secret\n"));
        assertEquals(link + " is a symbolic link; remove it; captured data is never written through a link",
                e.getMessage());
        assertFalse(Files.exists(target, LinkOption.NOFOLLOW_LINKS));
    }

    @Test
    void groupOrWorldWritableFileOfOursIsRefused() throws IOException {
        Path file = dir.resolve("events.jsonl");
        Files.writeString(file, "old\n");
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-rw-rw-"));
        IOException e = assertThrows(IOException.class, () -> append(file, "secret\n"));
        assertEquals(file + " is writable by group or others (mode 0666); remove it or chmod 600 it", e.getMessage());
        assertEquals("old\n", Files.readString(file));
    }

    @Test
    void readableFileOfOursIsNarrowedTo0600AndSaidSo() throws IOException {
        Path file = dir.resolve("events.jsonl");
        Files.writeString(file, "old\n");
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-r--r--"));
        append(file, "new\n");
        assertEquals("old\nnew\n", Files.readString(file));
        assertEquals("rw-------", mode(file));
        assertEquals(List.of(file + " was readable by others (mode 0644); narrowed to 0600"), notices);
    }

    @Test
    void hardLinkedFileIsRefused() throws IOException {
        Path file = dir.resolve("events.jsonl");
        Files.writeString(file, "old\n");
        Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
        Files.createLink(dir.resolve("other-name"), file);
        IOException e = assertThrows(IOException.class, () -> append(file, "secret\n"));
        assertEquals(file + " has 2 hard links; remove it or name another file", e.getMessage());
    }

    @Test
    void worldWritableDirectoryWithoutStickyBitIsRefused() throws IOException {
        Path shared = Files.createDirectory(dir.resolve("shared"));
        Files.setPosixFilePermissions(shared, PosixFilePermissions.fromString("rwxrwxrwx"));
        Path file = shared.resolve("events.jsonl");
        IOException e = assertThrows(IOException.class, () -> append(file, "secret\n"));
        assertEquals(shared + " is a directory writable by group or others (mode 0777); use a directory only its"
                + " owner can write, e.g. a new one, which is created 0700", e.getMessage());
        assertFalse(Files.exists(file));
    }

    @Test
    void stickyWorldWritableDirectoryIsAccepted() throws IOException {
        Path shared = Files.createDirectory(dir.resolve("shared"));
        chmod("1777", shared);
        Path file = shared.resolve("events.jsonl");
        append(file, "x\n");
        assertEquals("rw-------", mode(file));
    }

    @Test
    void symlinkedDirectoryOfOursIsFollowedAndItsTargetChecked() throws IOException {
        Path real = Files.createDirectory(dir.resolve("real"));
        Path alias = Files.createSymbolicLink(dir.resolve("alias"), real);
        append(alias.resolve("events.jsonl"), "x\n");
        assertEquals("x\n", Files.readString(real.resolve("events.jsonl")));

        Files.setPosixFilePermissions(real, PosixFilePermissions.fromString("rwxrwxrwx"));
        IOException e = assertThrows(IOException.class, () -> append(alias.resolve("other.jsonl"), "x\n"));
        assertTrue(e.getMessage().startsWith(real + " is a directory writable by group or others (mode 0777)"),
                e.getMessage());
    }

    @Test
    void aDirectoryInTheWayIsRefused() throws IOException {
        Files.createDirectory(dir.resolve("events.jsonl"));
        IOException e = assertThrows(IOException.class, () -> append(dir.resolve("events.jsonl"), "x\n"));
        assertEquals(dir.resolve("events.jsonl") + " is not a regular file; name a regular file", e.getMessage());
    }

    // ---- another local user, as the reports described: needs root to become that user ----

    private static final int NOBODY = 65534;

    /** A sticky, world-writable directory like /tmp, in a traversable temp dir. */
    private Path sharedStickyDir() throws IOException {
        assumeTrue(SafeFile.effectiveUid() == 0, "becoming another user needs root");
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/setpriv")), "setpriv (util-linux) is missing");
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        Path shared = Files.createDirectory(dir.resolve("shared"));
        chmod("1777", shared);
        return shared;
    }

    /** Runs a shell command as uid/gid 65534 (nobody) with no supplementary groups. */
    private static void asNobody(String command) throws Exception {
        Process p = new ProcessBuilder("/usr/bin/setpriv", "--reuid=" + NOBODY, "--regid=" + NOBODY, "--clear-groups",
                "--", "sh", "-c", command).redirectErrorStream(true).start();
        assertTrue(p.waitFor(30, TimeUnit.SECONDS));
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.exitValue(), command + ": " + out);
    }

    @Test
    void fileCreatedByAnotherUserIsRefusedAndGetsNothing() throws Exception {
        Path shared = sharedStickyDir();
        Path file = shared.resolve("events.jsonl");
        asNobody("umask 022 && printf 'mine\\n' > " + file);
        assertEquals(NOBODY, uidOf(file));
        assertEquals("rw-r--r--", mode(file));

        IOException e = assertThrows(IOException.class, () -> append(file, "Authorization: Bearer secret\n"));
        assertEquals(file + " belongs to uid 65534, not to this process (uid 0); remove it or name another file",
                e.getMessage());
        assertEquals("mine\n", Files.readString(file));
    }

    @Test
    void worldWritableFileCreatedByAnotherUserIsRefused() throws Exception {
        Path shared = sharedStickyDir();
        Path file = shared.resolve("events.jsonl");
        asNobody("umask 000 && : > " + file + " && chmod 666 " + file);
        IOException e = assertThrows(IOException.class, () -> append(file, "Cookie: session=secret\n"));
        assertEquals(file + " belongs to uid 65534, not to this process (uid 0); remove it or name another file",
                e.getMessage());
        assertEquals(0, Files.size(file));
    }

    @Test
    void symlinkPlantedByAnotherUserIsRefusedAndItsTargetUntouched() throws Exception {
        Path shared = sharedStickyDir();
        Path target = dir.resolve("root-owned-target");
        Files.writeString(target, "precious\n");
        Path link = shared.resolve("events.jsonl");
        asNobody("ln -s " + target + " " + link);
        assertEquals(NOBODY, uidOf(link));

        IOException e = assertThrows(IOException.class, () -> append(link, "secret\n"));
        assertEquals(link + " is a symbolic link; remove it; captured data is never written through a link",
                e.getMessage());
        assertEquals("precious\n", Files.readString(target));
    }

    @Test
    void directoryLinkPlantedByAnotherUserIsRefused() throws Exception {
        Path shared = sharedStickyDir();
        Path theirs = shared.resolve("theirs");
        Path alias = shared.resolve("logs");
        asNobody("mkdir -m 755 " + theirs + " && ln -s " + theirs + " " + alias);
        IOException e = assertThrows(IOException.class, () -> append(alias.resolve("events.jsonl"), "secret\n"));
        assertEquals(alias + " is a symbolic link owned by uid 65534; name the directory it points to, or one owned"
                + " by root or uid 0", e.getMessage());
        assertFalse(Files.exists(theirs.resolve("events.jsonl")));
    }

    @Test
    void directoryOfAnotherUserIsRefused() throws Exception {
        Path shared = sharedStickyDir();
        Path theirs = shared.resolve("theirs");
        asNobody("mkdir -m 755 " + theirs);
        IOException e = assertThrows(IOException.class, () -> append(theirs.resolve("events.jsonl"), "secret\n"));
        assertEquals(theirs + " is a directory owned by uid 65534 (this process runs as uid 0); use a directory"
                + " owned by root or uid 0", e.getMessage());
    }

    @Test
    void filesOnKernelFileSystemsAndDevicesAreRefusedBeforeTheyAreOpened() {
        // /proc/self/mem is a regular file of ours on procfs: opened, it failed at every write
        Path mem = Path.of("/proc/self/mem");
        IOException e = assertThrows(IOException.class, () -> SafeFile.openAppend(mem, n -> { }));
        assertEquals("/proc/self/mem is on proc, a kernel file system and not storage; name a file on a disk or "
                + "tmpfs, e.g. /var/log/btf-agent/events.jsonl", e.getMessage());
        Path sys = Path.of("/sys/kernel/btf-agent-events.jsonl");
        e = assertThrows(IOException.class, () -> SafeFile.openAppend(sys, n -> { }));
        assertEquals(sys + " is on sysfs, a kernel file system and not storage; name a file on a disk or tmpfs, e.g. "
                + "/var/log/btf-agent/events.jsonl", e.getMessage());
        assertFalse(Files.exists(sys));
        e = assertThrows(IOException.class, () -> SafeFile.openAppend(Path.of("/dev/null"), n -> { }));
        assertEquals("/dev/null is a character device, not a regular file; name a regular file", e.getMessage());
    }
}
