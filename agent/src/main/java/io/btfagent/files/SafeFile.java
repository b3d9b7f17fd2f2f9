package io.btfagent.files;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.function.Consumer;

/**
 * Opens the files that hold captured plaintext so that only the JVM's own user can read them
 * and nobody else can redirect them.
 *
 * <ul>
 *   <li>A new file is created owner-only ({@code 0600}) whatever the umask, with
 *       {@code O_EXCL}: it cannot be someone else's file created a moment earlier.
 *   <li>The file itself is never reached through a symbolic link ({@code O_NOFOLLOW}).
 *   <li>An existing file is refused when it belongs to another user, is writable by group or
 *       others, is not a regular file, or has other hard links; one of ours that others can
 *       read is narrowed to {@code 0600} (and said so).
 *   <li>Every directory above it must be owned by root or this user and not writable by
 *       group or others unless sticky (as {@code /tmp}); a symbolic link on the way must be
 *       owned by root or this user. Otherwise another user could swap the directory or
 *       plant a link between the checks and the open. Missing directories are created
 *       {@code 0700}.
 * </ul>
 *
 * Every refusal is an {@link IOException} whose message is one line naming the path, the
 * problem and the fix.
 */
public final class SafeFile {
    private static final Set<PosixFilePermission> OWNER_RW = PosixFilePermissions.fromString("rw-------");
    private static final Set<PosixFilePermission> OWNER_RWX = PosixFilePermissions.fromString("rwx------");
    private static final int S_IFMT = 0170000;
    private static final int S_IFDIR = 0040000;
    private static final int S_IFREG = 0100000;
    private static final int S_ISVTX = 01000;
    private static final int GROUP_OTHER_WRITE = 0022;
    private static final int GROUP_OTHER_ANY = 0077;

    private SafeFile() {
    }

    /**
     * Opens {@code path} for appending (creating it and its missing directories if needed).
     *
     * @param notices receives one line when an existing file of ours was narrowed to 0600
     */
    public static FileChannel openAppend(Path path, Consumer<String> notices) throws IOException {
        Path file = path.toAbsolutePath().normalize();
        Path dir = file.getParent();
        if (dir == null || file.getFileName() == null) {
            throw new IOException(path + " is not a file path; name a file, e.g. /var/log/btf-agent/events.jsonl");
        }
        prepareDirectory(dir);
        refuseSpecial(file, dir);
        int uid = effectiveUid();
        Set<OpenOption> create = Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE,
                StandardOpenOption.APPEND, LinkOption.NOFOLLOW_LINKS);
        FileAttribute<Set<PosixFilePermission>> ownerOnly = PosixFilePermissions.asFileAttribute(OWNER_RW);
        for (int attempt = 0; attempt < 3; attempt++) {
            if (!exists(file)) {
                try {
                    FileChannel ch = FileChannel.open(file, create, ownerOnly);
                    // the creation mode went through the umask; fchmod (no link followed) sets it exactly
                    setOwnerOnly(file);
                    return ch;
                } catch (FileAlreadyExistsException raced) {
                    continue; // appeared meanwhile (a link, another file): check it like any existing one
                }
            }
            checkExisting(file, uid, notices);
            try {
                FileChannel ch = FileChannel.open(file, StandardOpenOption.WRITE, StandardOpenOption.APPEND,
                        LinkOption.NOFOLLOW_LINKS);
                checkExisting(file, uid, notices); // the directory is ours: nobody else can swap the entry
                return ch;
            } catch (NoSuchFileException gone) {
                continue;
            } catch (IOException e) {
                throw refusal(file, "cannot be opened (" + reason(e) + ")", "check the path and its permissions");
            }
        }
        throw refusal(file, "keeps changing while it is opened", "name a file in a directory only you can write");
    }

    /**
     * Creates {@code dir} and its missing parents {@code 0700}, then checks every directory
     * from the root down (see the class comment).
     */
    public static void prepareDirectory(Path dir) throws IOException {
        Path abs = dir.toAbsolutePath().normalize();
        checkChain(abs, true);
        List<Path> missing = new ArrayList<>();
        for (Path p = abs; p != null && !exists(p); p = p.getParent()) {
            missing.add(0, p);
        }
        for (Path p : missing) {
            try {
                Files.createDirectory(p, PosixFilePermissions.asFileAttribute(OWNER_RWX));
                Files.getFileAttributeView(p, PosixFileAttributeView.class, LinkOption.NOFOLLOW_LINKS)
                        .setPermissions(OWNER_RWX);
            } catch (FileAlreadyExistsException raced) {
                // made meanwhile: the check below decides whether it can be used
            } catch (IOException e) {
                throw refusal(p, "cannot be created (" + reason(e) + ")",
                        "create it or choose a directory this user can write");
            }
        }
        checkChain(abs, false);
        Path real;
        try {
            real = abs.toRealPath();
        } catch (IOException e) {
            throw refusal(abs, "cannot be resolved (" + reason(e) + ")", "check the path");
        }
        if (!real.equals(abs)) {
            checkChain(real, false);
        }
        if ((mode(real) & S_IFMT) != S_IFDIR) {
            throw refusal(abs, "is not a directory", "name a file in a directory");
        }
    }

    /**
     * Refuses a device, FIFO or socket by its kind, and any file on a kernel file system
     * ({@link #SPECIAL_FILE_SYSTEMS}), before it is opened.
     */
    private static void refuseSpecial(Path file, Path dir) throws IOException {
        if (exists(file) && !Files.isSymbolicLink(file)) {
            String what = switch (mode(file) & S_IFMT) {
                case 0020000 -> "a character device";
                case 0060000 -> "a block device";
                case 0010000 -> "a FIFO";
                case 0140000 -> "a socket";
                default -> null;
            };
            if (what != null) {
                throw refusal(file, "is " + what + ", not a regular file", "name a regular file");
            }
        }
        String fsType = fileSystemType(dir.toRealPath());
        if (SPECIAL_FILE_SYSTEMS.contains(fsType)) {
            throw refusal(file, "is on " + fsType + ", a kernel file system and not storage",
                    "name a file on a disk or tmpfs, e.g. /var/log/btf-agent/events.jsonl");
        }
    }

    /**
     * File systems whose files are kernel interfaces, not storage ({@code /proc/self/mem},
     * {@code /sys/...}, {@code /dev/...}): writing captured data there fails at each batch or
     * does something else entirely.
     */
    static final Set<String> SPECIAL_FILE_SYSTEMS = Set.of("proc", "sysfs", "devtmpfs", "devpts", "debugfs",
            "tracefs", "securityfs", "cgroup", "cgroup2", "bpf", "configfs", "pstore", "efivarfs", "fusectl",
            "mqueue", "hugetlbfs", "binfmt_misc", "nsfs", "selinuxfs", "rpc_pipefs", "autofs");

    /** The type of the file system {@code p} is on, as the mount table names it; empty if unknown. */
    static String fileSystemType(Path p) {
        try {
            return Files.getFileStore(p).type();
        } catch (IOException | RuntimeException e) {
            return "";
        }
    }

    /**
     * Each existing component of {@code dir}, root first: a link must be root's or ours; a
     * directory root's or ours and not writable by others unless sticky. With
     * {@code existingOnly} the check stops at the first missing component.
     */
    private static void checkChain(Path dir, boolean existingOnly) throws IOException {
        int uid = effectiveUid();
        Path p = dir.getRoot();
        for (Path name : dir) {
            p = p.resolve(name);
            if (!exists(p)) {
                if (existingOnly) {
                    return;
                }
                throw refusal(p, "does not exist", "create it");
            }
            int owner = (Integer) Files.getAttribute(p, "unix:uid", LinkOption.NOFOLLOW_LINKS);
            if (Files.isSymbolicLink(p)) {
                if (owner != 0 && owner != uid) {
                    throw refusal(p, "is a symbolic link owned by uid " + owner,
                            "name the directory it points to, or one owned by root or uid " + uid);
                }
                continue; // its target is checked through the real path
            }
            int mode = mode(p);
            if ((mode & S_IFMT) != S_IFDIR) {
                throw refusal(p, "is not a directory", "name a file in a directory");
            }
            if (owner != 0 && owner != uid) {
                throw refusal(p, "is a directory owned by uid " + owner + " (this process runs as uid " + uid + ")",
                        "use a directory owned by root or uid " + uid);
            }
            if ((mode & GROUP_OTHER_WRITE) != 0 && (mode & S_ISVTX) == 0) {
                throw refusal(p, "is a directory writable by group or others (mode " + octal(mode) + ")",
                        "use a directory only its owner can write, e.g. a new one, which is created 0700");
            }
        }
    }

    private static void checkExisting(Path file, int uid, Consumer<String> notices) throws IOException {
        if (Files.isSymbolicLink(file)) {
            throw refusal(file, "is a symbolic link", "remove it; captured data is never written through a link");
        }
        int mode = mode(file);
        if ((mode & S_IFMT) != S_IFREG) {
            throw refusal(file, "is not a regular file", "name a regular file");
        }
        int owner = (Integer) Files.getAttribute(file, "unix:uid", LinkOption.NOFOLLOW_LINKS);
        if (owner != uid) {
            throw refusal(file, "belongs to uid " + owner + ", not to this process (uid " + uid + ")",
                    "remove it or name another file");
        }
        if ((mode & GROUP_OTHER_WRITE) != 0) {
            throw refusal(file, "is writable by group or others (mode " + octal(mode) + ")",
                    "remove it or chmod 600 it");
        }
        int links = (Integer) Files.getAttribute(file, "unix:nlink", LinkOption.NOFOLLOW_LINKS);
        if (links != 1) {
            throw refusal(file, "has " + links + " hard links", "remove it or name another file");
        }
        if ((mode & GROUP_OTHER_ANY) != 0) {
            setOwnerOnly(file);
            notices.accept(file + " was readable by others (mode " + octal(mode) + "); narrowed to 0600");
        }
    }

    /**
     * Checks that only root or this user can change {@code file} (code to run, e.g. an
     * extension jar): owned by one of them, not writable by group or others, every directory
     * above it as for {@link #openAppend}, reached through no link owned by anyone else.
     */
    public static void checkTrusted(Path file) throws IOException {
        Path abs = file.toAbsolutePath().normalize();
        checkChain(abs.getParent(), false);
        Path real = abs.toRealPath();
        if (!real.getParent().equals(abs.getParent())) {
            checkChain(real.getParent(), false);
        }
        if (Files.isSymbolicLink(abs)) {
            int linkOwner = (Integer) Files.getAttribute(abs, "unix:uid", LinkOption.NOFOLLOW_LINKS);
            if (linkOwner != 0 && linkOwner != effectiveUid()) {
                throw refusal(abs, "is a symbolic link owned by uid " + linkOwner, "name the file it points to");
            }
        }
        int owner = (Integer) Files.getAttribute(real, "unix:uid", LinkOption.NOFOLLOW_LINKS);
        int mode = mode(real);
        if (owner != 0 && owner != effectiveUid()) {
            throw refusal(real, "belongs to uid " + owner + " (this process runs as uid " + effectiveUid() + ")",
                    "use a file owned by root or uid " + effectiveUid());
        }
        if ((mode & GROUP_OTHER_WRITE) != 0) {
            throw refusal(real, "is writable by group or others (mode " + octal(mode) + ")", "chmod go-w it");
        }
    }

    /** chmod 0600 through a descriptor opened without following links (the JDK's fchmod path). */
    private static void setOwnerOnly(Path file) throws IOException {
        Files.getFileAttributeView(file, PosixFileAttributeView.class, LinkOption.NOFOLLOW_LINKS)
                .setPermissions(OWNER_RW);
    }

    private static boolean exists(Path p) {
        return Files.exists(p, LinkOption.NOFOLLOW_LINKS);
    }

    private static int mode(Path p) throws IOException {
        return (Integer) Files.getAttribute(p, "unix:mode", LinkOption.NOFOLLOW_LINKS);
    }

    private static String octal(int mode) {
        return String.format("%04o", mode & 07777);
    }

    private static String reason(IOException e) {
        String m = e.getMessage();
        return e.getClass().getSimpleName() + (m == null ? "" : ": " + m);
    }

    private static IOException refusal(Path p, String problem, String fix) {
        return new IOException(p + " " + problem + "; " + fix);
    }

    /** The effective uid of this process, from {@code /proc/self/status}. */
    public static int effectiveUid() {
        return Uid.EFFECTIVE;
    }

    private static final class Uid {
        static final int EFFECTIVE = read();
    }

    private static int read() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("Uid:")) {
                    return Integer.parseInt(line.substring(4).trim().split("\\s+")[1]);
                }
            }
        } catch (IOException | RuntimeException e) {
            // fall through
        }
        throw new IllegalStateException("cannot read the effective uid from /proc/self/status");
    }
}
