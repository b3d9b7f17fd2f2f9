package io.btfagent.tls;

import io.btfagent.elf.ElfFile;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Finds the TLS libraries this process has mapped, deleted ones included: libssl and libgnutls
 * by name, netty-tcnative's BoringSSL (plain or shaded, extracted under a random name and
 * usually deleted) by what it exports. Each mapped file is looked into once: the verdict is
 * kept by device and inode.
 */
public final class MappedLibraries {
    private final Map<String, Optional<String>> familyByInode = new ConcurrentHashMap<>();

    /** The TLS libraries this process has mapped now. */
    public List<LibraryScanner.LibraryFile> scan() throws IOException {
        return scan(Files.readString(Path.of("/proc/self/maps")));
    }

    /** The TLS libraries of {@code mapsText}, the contents of this process's maps. */
    public List<LibraryScanner.LibraryFile> scan(String mapsText) {
        List<LibraryScanner.LibraryFile> out = new ArrayList<>();
        for (LibraryScanner.Mapping m : LibraryScanner.mappedFiles(mapsText)) {
            if (!m.executable()) {
                // Not loaded code: a file only read through a mapping (the agent's own ELF reader
                // maps the libraries it looks at), or a library the linker has not finished
                // mapping yet (its next report wakes another scan).
                continue;
            }
            Optional<String> family = familyByInode.computeIfAbsent(m.dev() + ":" + m.inode(), k -> familyOf(m));
            if (family.isEmpty()) {
                continue;
            }
            // A file still under its name is attached by that name; only a deleted or replaced one
            // needs the magic link, whose range names one mapping and goes when that mapping goes.
            Path attach = !m.deleted() && isMapped(Path.of(m.name()), m) ? Path.of(m.name())
                    : readable(m.mapFile()) ? m.mapFile() : m.deleted() ? null : Path.of(m.name());
            if (attach == null) {
                // reported by the caller: a deleted file that /proc/self/map_files does not open
                out.add(new LibraryScanner.LibraryFile(Path.of(m.name()), m.dev() + ":" + m.inode(), family.get(),
                        null, true));
                continue;
            }
            try {
                Object key = Files.readAttributes(attach, BasicFileAttributes.class).fileKey();
                out.add(new LibraryScanner.LibraryFile(Path.of(m.name()), String.valueOf(key), family.get(), attach,
                        m.deleted()));
            } catch (IOException | SecurityException e) {
                // unmapped since the maps were read
            }
        }
        return out;
    }

    /** openssl or gnutls by file name; boringssl if the (executable) mapping is netty-tcnative. */
    private static Optional<String> familyOf(LibraryScanner.Mapping m) {
        Optional<String> byName = LibraryScanner.family(Path.of(m.name()).getFileName().toString());
        if (byName.isPresent()) {
            return byName;
        }
        Path read = readable(m.mapFile()) ? m.mapFile() : Path.of(m.name());
        try (ElfFile elf = ElfFile.open(read)) {
            return TlsLibrary.isTcnative(elf) ? Optional.of("boringssl") : Optional.empty();
        } catch (IOException | RuntimeException e) {
            return Optional.empty(); // not ELF, unreadable, or gone: not a library we can hook
        }
    }

    /** Whether {@code p} is still the file of mapping {@code m} (same inode), not a file put in its place. */
    private static boolean isMapped(Path p, LibraryScanner.Mapping m) {
        try {
            return Files.isReadable(p) && ((Number) Files.getAttribute(p, "unix:ino")).longValue() == m.inode();
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    private static boolean readable(Path p) {
        try {
            return Files.isReadable(p);
        } catch (SecurityException e) {
            return false;
        }
    }
}
