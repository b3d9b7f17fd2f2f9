package io.btfagent.tls;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * Finds the TLS libraries a process has mapped, from its {@code /proc/<pid>/maps}, and TLS
 * libraries on disk that it may load later.
 */
public final class LibraryScanner {
    /** libssl.so, libssl.so.3, libssl.so.1.1, ... */
    static final Pattern LIBSSL = Pattern.compile("libssl\\.so(\\.[0-9]+)*");
    /** libgnutls.so.30, ... */
    static final Pattern LIBGNUTLS = Pattern.compile("libgnutls\\.so(\\.[0-9]+)*");

    /** The TLS library family a file name belongs to: openssl, gnutls, or none. */
    public static java.util.Optional<String> family(String fileName) {
        if (LIBSSL.matcher(fileName).matches()) {
            return java.util.Optional.of("openssl");
        }
        if (LIBGNUTLS.matcher(fileName).matches()) {
            return java.util.Optional.of("gnutls");
        }
        return java.util.Optional.empty();
    }

    private LibraryScanner() {
    }

    /**
     * A library file, identified by device and inode so two paths to one file are one library.
     *
     * @param path the file's name, as the maps or the watched directory give it (a deleted file
     *     keeps the name it had)
     * @param family openssl, gnutls or boringssl
     * @param attachPath the path the agent reads and attaches through: for a mapped library
     *     {@code /proc/self/map_files/<start>-<end>}, which reaches the mapped inode even after
     *     the file was deleted or replaced; else {@code path}
     * @param deleted the maps say the file was deleted after it was mapped
     */
    public record LibraryFile(Path path, String fileKey, String family, Path attachPath, boolean deleted) {
        public LibraryFile(Path path, String fileKey) {
            this(path, fileKey, LibraryScanner.family(path.getFileName().toString()).orElse(""), path, false);
        }
    }

    /**
     * One file mapped in this process, from a line of the maps: its name (without the
     * {@code " (deleted)"} the kernel appends), one of its address ranges, and its device and
     * inode as the maps give them.
     */
    public record Mapping(String name, boolean deleted, String range, String dev, long inode, boolean executable) {
        /** The magic link to the mapped file itself, whatever became of its name. */
        public Path mapFile() {
            return Path.of("/proc/self/map_files", range);
        }
    }

    /**
     * The dynamic linker ({@code ld-linux*}) among the files mapped in {@code mapsText}: its
     * {@code _dl_debug_state} is called around every change of the loaded libraries.
     */
    public static java.util.Optional<String> dynamicLinker(String mapsText) {
        return mappedFiles(mapsText).stream().map(Mapping::name)
                .filter(n -> Path.of(n).getFileName().toString().startsWith("ld-linux")).findFirst();
    }

    /** Between the fields of a maps line: compiled once, not per line of every scan. */
    private static final java.util.regex.Pattern FIELD_GAP = java.util.regex.Pattern.compile("\\s+");

    /**
     * The distinct files mapped in {@code mapsText}, one entry per device and inode (the first
     * range, executable if any range of it is), deleted ones included.
     */
    public static List<Mapping> mappedFiles(String mapsText) {
        Map<String, Mapping> byInode = new LinkedHashMap<>();
        for (String line : mapsText.split("\n")) {
            // address perms offset dev inode pathname; the pathname may contain spaces
            String[] f = FIELD_GAP.split(line.trim(), 6);
            if (f.length < 6 || !f[5].startsWith("/")) {
                continue;
            }
            long inode;
            try {
                inode = Long.parseLong(f[4]);
            } catch (NumberFormatException e) {
                continue;
            }
            if (inode == 0) {
                continue;
            }
            boolean deleted = f[5].endsWith(" (deleted)");
            String name = deleted ? f[5].substring(0, f[5].length() - " (deleted)".length()) : f[5];
            boolean exec = f[1].indexOf('x') >= 0;
            String key = f[3] + ":" + inode;
            Mapping m = byInode.get(key);
            if (m == null) {
                byInode.put(key, new Mapping(name, deleted, f[0], f[3], inode, exec));
            } else if (exec && !m.executable()) {
                byInode.put(key, new Mapping(m.name(), m.deleted(), m.range(), m.dev(), m.inode(), true));
            }
        }
        return new ArrayList<>(byInode.values());
    }

    /** The TLS library files in {@code dirs} (files or directories), for hooking before they load. */
    public static List<LibraryFile> onDisk(List<Path> dirs) {
        return onDisk(dirs, (p, why) -> { });
    }

    /**
     * As {@link #onDisk(List)}; {@code skipped} hears of each file named like a TLS library that
     * is not a regular file (a FIFO, a device: never opened) and why.
     */
    public static List<LibraryFile> onDisk(List<Path> dirs, java.util.function.BiConsumer<Path, String> skipped) {
        List<LibraryFile> out = new ArrayList<>();
        for (Path d : dirs) {
            if (Files.isRegularFile(d)) {
                identify(d).ifPresent(out::add);
                continue;
            }
            if (!Files.isDirectory(d)) {
                continue;
            }
            try (var s = Files.list(d)) {
                s.filter(p -> family(p.getFileName().toString()).isPresent())
                        .sorted()
                        .forEach(p -> {
                            java.util.Optional<LibraryFile> f = identify(p);
                            if (f.isPresent()) {
                                out.add(f.get());
                            } else if (Files.exists(p)) {
                                skipped.accept(p, "not a regular file");
                            }
                        });
            } catch (IOException | SecurityException ignored) {
                // an unreadable directory holds nothing we can hook
            }
        }
        return out;
    }

    static java.util.Optional<LibraryFile> identify(Path p) {
        try {
            Path real = p.toRealPath();
            if (!Files.isRegularFile(real)) {
                return java.util.Optional.empty();
            }
            Object key = Files.readAttributes(real, java.nio.file.attribute.BasicFileAttributes.class).fileKey();
            return java.util.Optional.of(new LibraryFile(real, String.valueOf(key)));
        } catch (IOException | SecurityException e) {
            return java.util.Optional.empty();
        }
    }
}
