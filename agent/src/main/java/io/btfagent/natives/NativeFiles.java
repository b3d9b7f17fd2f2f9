package io.btfagent.natives;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;

/**
 * The native libraries the agent carries (JNA's dispatch library, libbpf), written to a
 * directory of the agent's own and loaded from there by absolute path. Each file is named by a
 * hash of its content, so agents of different versions never overwrite each other's files and
 * a file already present with the right name is reused; directory and files are owner-only.
 */
public final class NativeFiles {
    private NativeFiles() {
    }

    /** {@code ${java.io.tmpdir}/btf-agent-<uid>}, the default of {@code native.dir}. */
    public static Path defaultDir() {
        return Path.of(System.getProperty("java.io.tmpdir", "/tmp"), "btf-agent-" + uid());
    }

    /**
     * Creates {@code dir} (mode 0700) if needed and checks it is ours and not group/world
     * writable, so nobody else can swap a library under us.
     */
    public static void prepareDir(Path dir) throws IOException {
        try {
            Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        } catch (FileAlreadyExistsException e) {
            throw new IOException("native.dir " + dir + " exists and is not a directory");
        }
        Object owner = Files.getAttribute(dir, "unix:uid", LinkOption.NOFOLLOW_LINKS);
        if (!String.valueOf(owner).equals(uid())) {
            throw new IOException("native.dir " + dir + " belongs to uid " + owner + ", not to this process (uid "
                    + uid() + "); set native.dir to a directory of your own");
        }
        int mode = (Integer) Files.getAttribute(dir, "unix:mode", LinkOption.NOFOLLOW_LINKS);
        if ((mode & 0022) != 0) {
            throw new IOException("native.dir " + dir + " is writable by others (mode " + Integer.toOctalString(mode & 0777)
                    + "); use chmod 700 or another directory");
        }
    }

    /**
     * What {@link #prepareDir} would refuse, found without creating or changing anything:
     * {@code dir} (reached through {@code seen}, e.g. below {@code /proc/<pid>/root} for
     * another mount namespace) must be a directory owned by {@code uid} and not group- or
     * world-writable, or not exist yet under a directory {@code uid} may create it in.
     */
    public static Optional<String> dirProblem(Path dir, Path seen, String uid) {
        try {
            if (Files.exists(seen, LinkOption.NOFOLLOW_LINKS)) {
                if (!Files.isDirectory(seen, LinkOption.NOFOLLOW_LINKS)) {
                    return Optional.of("native.dir " + dir + " exists and is not a directory");
                }
                Object owner = Files.getAttribute(seen, "unix:uid", LinkOption.NOFOLLOW_LINKS);
                if (!String.valueOf(owner).equals(uid)) {
                    return Optional.of("native.dir " + dir + " belongs to uid " + owner + ", not to uid " + uid);
                }
                int mode = (Integer) Files.getAttribute(seen, "unix:mode", LinkOption.NOFOLLOW_LINKS);
                if ((mode & 0022) != 0) {
                    return Optional.of("native.dir " + dir + " is writable by others (mode "
                            + Integer.toOctalString(mode & 0777) + ")");
                }
                return Optional.empty();
            }
            Path parent = seen.toAbsolutePath().getParent();
            while (parent != null && !Files.exists(parent)) {
                parent = parent.getParent();
            }
            if (parent == null) {
                return Optional.of("native.dir " + dir + " has no existing parent directory");
            }
            int mode = (Integer) Files.getAttribute(parent, "unix:mode");
            String owner = String.valueOf(Files.getAttribute(parent, "unix:uid"));
            boolean writable = uid.equals("0") || (owner.equals(uid) && (mode & 0200) != 0) || (mode & 0002) != 0;
            return writable ? Optional.empty()
                    : Optional.of("native.dir " + dir + " does not exist and uid " + uid + " cannot create it");
        } catch (IOException | UnsupportedOperationException e) {
            return Optional.of("native.dir " + dir + " cannot be checked: " + e);
        }
    }

    /**
     * Writes the resource {@code resource} of {@code loader} into {@code dir} as
     * {@code <stem>-<sha256 prefix><suffix>} and returns its path.
     */
    public static Path extract(ClassLoader loader, String resource, Path dir) throws IOException {
        byte[] bytes;
        try (InputStream in = loader.getResourceAsStream(resource)) {
            if (in == null) {
                throw new IOException("the agent jar lacks " + resource);
            }
            bytes = in.readAllBytes();
        }
        String name = resource.substring(resource.lastIndexOf('/') + 1);
        int dot = name.indexOf('.');
        String stem = dot < 0 ? name : name.substring(0, dot);
        String suffix = dot < 0 ? "" : name.substring(dot);
        Path target = dir.resolve(stem + "-" + sha256(bytes).substring(0, 16) + suffix);
        // a file left by an earlier start is used only if it holds exactly these bytes
        if (Files.isRegularFile(target, LinkOption.NOFOLLOW_LINKS) && Files.size(target) == bytes.length
                && java.util.Arrays.equals(Files.readAllBytes(target), bytes)) {
            return target;
        }
        Path tmp = Files.createTempFile(dir, stem, ".tmp");
        try {
            Files.write(tmp, bytes);
            Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("r-x------"));
            try {
                Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, target, StandardCopyOption.REPLACE_EXISTING);
            }
        } finally {
            Files.deleteIfExists(tmp);
        }
        return target;
    }

    /**
     * Why native code cannot be loaded from {@code dir}, if its file system is mounted
     * {@code noexec} (read from {@code mountinfo}, the content of /proc/self/mountinfo).
     */
    public static Optional<String> noexecProblem(Path dir, String mountinfo) {
        String path = dir.toAbsolutePath().normalize().toString();
        String best = null;
        List<String> bestOptions = List.of();
        for (String line : mountinfo.split("\n")) {
            // id parent major:minor root mount-point options [optional...] - fstype source super-options
            String[] f = line.split(" ");
            if (f.length < 6) {
                continue;
            }
            String mountPoint = unescape(f[4]);
            boolean covers = path.equals(mountPoint) || path.startsWith(mountPoint.endsWith("/") ? mountPoint : mountPoint + "/");
            if (covers && (best == null || mountPoint.length() >= best.length())) {
                best = mountPoint;
                bestOptions = List.of(f[5].split(","));
            }
        }
        if (best != null && bestOptions.contains("noexec")) {
            return Optional.of("native.dir " + dir + " is on " + best + ", mounted noexec, so the agent's native "
                    + "libraries cannot load from it; set native.dir to a directory on a file system without noexec");
        }
        return Optional.empty();
    }

    private static String unescape(String s) {
        return s.replace("\\040", " ").replace("\\011", "\t").replace("\\012", "\n").replace("\\134", "\\");
    }

    /** The effective uid of this process. */
    public static String uid() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("Uid:")) {
                    return line.substring(4).trim().split("\\s+")[1]; // effective uid
                }
            }
        } catch (IOException ignored) {
            // fall through
        }
        return System.getProperty("user.name", "unknown");
    }

    private static String sha256(byte[] bytes) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(bytes));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
