package io.btfagent.elf;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The facts the agent needs from a 64-bit little-endian ELF shared library: its GNU build-id,
 * the names of its dynamic symbols, and version strings embedded in its read-only data.
 * Parsing needs no privileges; the file is mapped read-only and closed at once.
 */
public final class ElfFile {
    private static final int SHT_SYMTAB = 2;
    private static final int SHT_NOTE = 7;
    private static final int SHT_DYNSYM = 11;
    private static final int NT_GNU_BUILD_ID = 3;
    private static final int STT_FUNC = 2;

    private final Path path;
    private final ByteBuffer buf;

    private ElfFile(Path path, ByteBuffer buf) {
        this.path = path;
        this.buf = buf;
    }

    /** Maps {@code path} and checks that it is an ELF64 little-endian file. */
    public static ElfFile open(Path path) throws IOException {
        ByteBuffer buf;
        try (FileChannel ch = FileChannel.open(path, StandardOpenOption.READ)) {
            buf = ch.map(FileChannel.MapMode.READ_ONLY, 0, ch.size()).order(ByteOrder.LITTLE_ENDIAN);
        }
        if (buf.limit() < 64 || buf.getInt(0) != 0x464c457f) {
            throw new IOException(path + " is not an ELF file");
        }
        if (buf.get(4) != 2 || buf.get(5) != 1) {
            throw new IOException(path + " is not a 64-bit little-endian ELF file");
        }
        return checked(new ElfFile(path, buf));
    }

    /**
     * Checks the section header table and every section lie inside the file, so that later
     * reads cannot run off the end of a truncated or corrupt file.
     */
    private static ElfFile checked(ElfFile f) throws IOException {
        ByteBuffer b = f.buf;
        long shoff = b.getLong(40);
        int shentsize = Short.toUnsignedInt(b.getShort(58));
        int shnum = Short.toUnsignedInt(b.getShort(60));
        int shstrndx = Short.toUnsignedInt(b.getShort(62));
        boolean ok = shnum == 0 || (shentsize == 64 && shoff >= 64 && shoff + (long) shnum * 64 <= b.limit()
                && shstrndx < shnum);
        for (int i = 0; ok && i < shnum; i++) {
            int sh = (int) (shoff + 64L * i);
            long off = b.getLong(sh + 24);
            long size = b.getLong(sh + 32);
            ok = b.getInt(sh + 4) == 8 /* SHT_NOBITS */ || (off >= 0 && size >= 0 && off + size <= b.limit());
        }
        if (!ok) {
            throw new IOException(f.path + " is a truncated or corrupt ELF file");
        }
        return f;
    }

    public Path path() {
        return path;
    }

    /** The GNU build-id as lower-case hex, if the file carries one. */
    public Optional<String> buildId() {
        for (int i = 0; i < sectionCount(); i++) {
            int sh = sectionHeader(i);
            if (buf.getInt(sh + 4) != SHT_NOTE) {
                continue;
            }
            long off = buf.getLong(sh + 24);
            long size = buf.getLong(sh + 32);
            long pos = off;
            while (pos + 12 <= off + size) {
                int nameSize = buf.getInt((int) pos);
                int descSize = buf.getInt((int) pos + 4);
                int type = buf.getInt((int) pos + 8);
                long name = pos + 12;
                long desc = name + align4(nameSize);
                if (type == NT_GNU_BUILD_ID && nameSize == 4 && cString((int) name).equals("GNU")) {
                    byte[] id = new byte[descSize];
                    buf.get((int) desc, id);
                    return Optional.of(HexFormat.of().formatHex(id));
                }
                pos = desc + align4(descSize);
            }
        }
        return Optional.empty();
    }

    /**
     * The value of the symbol {@code name} in the static symbol table (.symtab); for a BPF
     * object, a global's offset within its data section.
     */
    public Optional<Long> symbolValue(String name) {
        long[] value = {0};
        boolean found = eachSymbol(SHT_SYMTAB, (symName, symValue, shndx, info) -> {
            if (symName.equals(name)) {
                value[0] = symValue;
                return true;
            }
            return false;
        });
        return found ? Optional.of(value[0]) : Optional.empty();
    }

    /** Names of the functions and objects the library exports (its .dynsym). */
    public Set<String> dynamicSymbols() {
        Set<String> names = new HashSet<>();
        eachSymbol(SHT_DYNSYM, (symName, symValue, shndx, info) -> {
            if (shndx != 0) { // shndx 0: an import, not defined here
                names.add(symName);
            }
            return false;
        });
        return names;
    }

    /**
     * The file offsets of the functions called {@code names} in the static symbol table
     * (.symtab), local symbols included: where a uprobe on each must sit. A name that several
     * distinct functions share (static functions of different sources) maps to all their offsets,
     * so the caller can refuse the ambiguity; a name absent maps to nothing.
     */
    public java.util.Map<String, java.util.List<Long>> functionFileOffsets(Set<String> names) {
        java.util.Map<String, java.util.List<Long>> out = new java.util.LinkedHashMap<>();
        eachSymbol(SHT_SYMTAB, (symName, symValue, shndx, info) -> {
            // STT_FUNC, defined in a real section (not undefined, ABS or COMMON)
            if ((info & 0xf) == STT_FUNC && shndx != 0 && shndx < sectionCount() && names.contains(symName)) {
                int sh = sectionHeader(shndx);
                long fileOffset = symValue - buf.getLong(sh + 16) + buf.getLong(sh + 24);
                java.util.List<Long> offsets = out.computeIfAbsent(symName, k -> new java.util.ArrayList<>());
                if (!offsets.contains(fileOffset)) {
                    offsets.add(fileOffset);
                }
            }
            return false;
        });
        return out;
    }

    /** Whether the file still has its static symbol table (.symtab): a stripped one has not. */
    public boolean hasStaticSymbolTable() {
        for (int i = 0; i < sectionCount(); i++) {
            if (buf.getInt(sectionHeader(i) + 4) == SHT_SYMTAB) {
                return true;
            }
        }
        return false;
    }

    /** Sees one named symbol; returning true ends the walk. */
    private interface SymbolVisitor {
        boolean visit(String name, long value, int shndx, int info);
    }

    /**
     * Walks the named symbols of every section of type {@code shType} (entry 0 is the null
     * symbol); true if the visitor ended the walk.
     */
    private boolean eachSymbol(int shType, SymbolVisitor visitor) {
        for (int i = 0; i < sectionCount(); i++) {
            int sh = sectionHeader(i);
            if (buf.getInt(sh + 4) != shType) {
                continue;
            }
            long off = buf.getLong(sh + 24);
            long size = buf.getLong(sh + 32);
            long entSize = buf.getLong(sh + 56);
            if (entSize < 24) { // an Elf64_Sym is 24 bytes; less is corrupt (and 0 would never advance)
                continue;
            }
            long strOff = buf.getLong(sectionHeader(buf.getInt(sh + 40)) + 24);
            for (long e = off + entSize; e + entSize <= off + size; e += entSize) {
                int nameIdx = buf.getInt((int) e);
                if (nameIdx != 0 && visitor.visit(cString((int) (strOff + nameIdx)), buf.getLong((int) e + 8),
                        Short.toUnsignedInt(buf.getShort((int) e + 6)), buf.get((int) e + 4) & 0xff)) {
                    return true;
                }
            }
        }
        return false;
    }

    /**
     * The first match of {@code pattern}'s group 1 in the file's bytes read as ISO-8859-1, e.g.
     * {@code OpenSSL (\d+\.\d+\.\d+[a-z]*) } finds the version libcrypto reports.
     */
    public Optional<String> findString(Pattern pattern) {
        byte[] all = new byte[buf.limit()];
        buf.get(0, all);
        Matcher m = pattern.matcher(new String(all, StandardCharsets.ISO_8859_1));
        return m.find() ? Optional.of(m.group(1)) : Optional.empty();
    }

    /** The contents of the section called {@code name}, e.g. {@code .BTF}. */
    public Optional<byte[]> section(String name) {
        int shstr = sectionHeader(Short.toUnsignedInt(buf.getShort(62)));
        long namesOff = buf.getLong(shstr + 24);
        for (int i = 0; i < sectionCount(); i++) {
            int sh = sectionHeader(i);
            if (cString((int) (namesOff + buf.getInt(sh))).equals(name)) {
                byte[] out = new byte[(int) buf.getLong(sh + 32)];
                buf.get((int) buf.getLong(sh + 24), out);
                return Optional.of(out);
            }
        }
        return Optional.empty();
    }

    /** Parses ELF bytes held in memory (e.g. a resource). */
    public static ElfFile of(byte[] bytes, String description) throws IOException {
        ByteBuffer buf = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        if (buf.limit() < 64 || buf.getInt(0) != 0x464c457f || buf.get(4) != 2 || buf.get(5) != 1) {
            throw new IOException(description + " is not a 64-bit little-endian ELF file");
        }
        return checked(new ElfFile(Path.of(description), buf));
    }

    private int sectionCount() {
        return Short.toUnsignedInt(buf.getShort(60));
    }

    private int sectionHeader(int index) {
        long shoff = buf.getLong(40);
        int shentsize = Short.toUnsignedInt(buf.getShort(58));
        return (int) (shoff + (long) index * shentsize);
    }

    private String cString(int at) {
        int end = at;
        while (end < buf.limit() && buf.get(end) != 0) {
            end++;
        }
        byte[] b = new byte[end - at];
        buf.get(at, b);
        return new String(b, StandardCharsets.ISO_8859_1);
    }

    private static long align4(long v) {
        return (v + 3) & ~3L;
    }
}
