package io.btfagent.elf;

import io.btfagent.files.BoundedFile;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The facts the agent needs from a 64-bit little-endian ELF shared library: its GNU build-id,
 * the names of its dynamic symbols, and version strings embedded in its read-only data.
 * Parsing needs no privileges.
 *
 * <p>A file is never read whole: {@link #open} reads its header and section headers, each
 * question reads the sections it needs (each at most {@link #SECTION_BOUND} bytes), through
 * positional reads that fail cleanly if the file shrinks meanwhile. A file the agent does not
 * control may be anything: what lies outside its sections, or is inconsistent inside one, makes
 * the answer empty, never an exception other than the {@link IOException} of {@link #open}.
 * Close it when done; an unclosed one holds a descriptor until it is collected.
 */
public final class ElfFile implements AutoCloseable {
    private static final int SHT_PROGBITS = 1;
    private static final int SHT_SYMTAB = 2;
    private static final int SHT_NOTE = 7;
    private static final int SHT_NOBITS = 8;
    private static final int SHT_DYNSYM = 11;
    private static final int NT_GNU_BUILD_ID = 3;
    private static final int STT_FUNC = 2;
    private static final long SHF_ALLOC = 0x2;
    private static final long SHF_EXECINSTR = 0x4;

    /** The largest section read whole (a symbol or string table); larger ones are treated as absent. */
    public static final long SECTION_BOUND = 64L << 20;
    /** The largest function whose code is read. */
    static final long FUNCTION_BOUND = 1 << 20;
    /** Read-only data is searched in windows of this many bytes (overlapping by {@link #OVERLAP}). */
    private static final int WINDOW = 1 << 20;
    private static final int OVERLAP = 256;

    /** Where the bytes come from: a file by positional reads, or an array. */
    private interface Source extends AutoCloseable {
        long size();

        /** Fills {@code dst} from {@code pos}; fails if the source has fewer bytes there. */
        void read(long pos, byte[] dst) throws IOException;

        @Override
        void close();
    }

    /** Something outside the bounds of the file or of a section: the question has no answer. */
    private static final class Malformed extends RuntimeException {
        private static final long serialVersionUID = 1L;

        Malformed(String message) {
            super(message, null, false, false);
        }
    }

    private final Path path;
    private final Source src;
    /** The section header table, shnum entries of 64 bytes. */
    private final ByteBuffer sh;
    private final int shnum;
    private final int shstrndx;
    private final Map<Integer, ByteBuffer> sections = new HashMap<>();

    private ElfFile(Path path, Source src, ByteBuffer sh, int shnum, int shstrndx) {
        this.path = path;
        this.src = src;
        this.sh = sh;
        this.shnum = shnum;
        this.shstrndx = shstrndx;
    }

    /**
     * Opens {@code path} and checks that it is an ELF64 little-endian file whose section headers
     * and sections lie inside it. A FIFO, a device or another special file is refused before it
     * is opened (opening a FIFO would block).
     */
    public static ElfFile open(Path path) throws IOException {
        BoundedFile.regularSize(path, "ELF file");
        // not a FileChannel: an interrupt of the reading thread would close it for good
        RandomAccessFile ch = new RandomAccessFile(path.toFile(), "r");
        try {
            long size = ch.length();
            Source src = new Source() {
                @Override
                public long size() {
                    return size;
                }

                @Override
                public void read(long pos, byte[] dst) throws IOException {
                    ch.seek(pos);
                    ch.readFully(dst); // EOFException if the file shrank meanwhile
                }

                @Override
                public void close() {
                    try {
                        ch.close();
                    } catch (IOException ignored) {
                        // read-only: nothing is lost
                    }
                }
            };
            return parse(path, src, path + " is not an ELF file");
        } catch (IOException | RuntimeException e) {
            ch.close();
            throw e;
        }
    }

    /** Parses ELF bytes held in memory (e.g. a resource). */
    public static ElfFile of(byte[] bytes, String description) throws IOException {
        Source src = new Source() {
            @Override
            public long size() {
                return bytes.length;
            }

            @Override
            public void read(long pos, byte[] dst) throws IOException {
                if (pos < 0 || pos + dst.length > bytes.length) {
                    throw new IOException(description + ": " + dst.length + " bytes at " + pos + " are outside it");
                }
                System.arraycopy(bytes, (int) pos, dst, 0, dst.length);
            }

            @Override
            public void close() {
            }
        };
        return parse(Path.of(description), src, description + " is not a 64-bit little-endian ELF file");
    }

    private static ElfFile parse(Path path, Source src, String notElf) throws IOException {
        if (src.size() < 64) {
            throw new IOException(notElf);
        }
        byte[] head = new byte[64];
        src.read(0, head);
        ByteBuffer h = ByteBuffer.wrap(head).order(ByteOrder.LITTLE_ENDIAN);
        if (h.getInt(0) != 0x464c457f) {
            throw new IOException(notElf);
        }
        if (h.get(4) != 2 || h.get(5) != 1) {
            throw new IOException(path + " is not a 64-bit little-endian ELF file");
        }
        long shoff = h.getLong(40);
        int shentsize = Short.toUnsignedInt(h.getShort(58));
        int shnum = Short.toUnsignedInt(h.getShort(60));
        int shstrndx = Short.toUnsignedInt(h.getShort(62));
        IOException corrupt = new IOException(path + " is a truncated or corrupt ELF file");
        if (shnum != 0 && (shentsize != 64 || shoff < 64 || shoff > src.size()
                || shoff + (long) shnum * 64 > src.size() || shstrndx >= shnum)) {
            throw corrupt;
        }
        byte[] table = new byte[shnum * 64];
        if (shnum != 0) {
            src.read(shoff, table);
        }
        ByteBuffer sh = ByteBuffer.wrap(table).order(ByteOrder.LITTLE_ENDIAN);
        for (int i = 0; i < shnum; i++) {
            long off = sh.getLong(i * 64 + 24);
            long size = sh.getLong(i * 64 + 32);
            if (sh.getInt(i * 64 + 4) != SHT_NOBITS && (off < 0 || size < 0 || off + size < 0
                    || off + size > src.size())) {
                throw corrupt;
            }
        }
        return new ElfFile(path, src, sh, shnum, shstrndx);
    }

    public Path path() {
        return path;
    }

    @Override
    public void close() {
        src.close();
    }

    /** The GNU build-id as lower-case hex, if the file carries one. */
    public Optional<String> buildId() {
        try {
            for (int i = 0; i < shnum; i++) {
                if (type(i) != SHT_NOTE) {
                    continue;
                }
                ByteBuffer n = section(i);
                long pos = 0;
                while (pos + 12 <= n.limit()) {
                    long nameSize = Integer.toUnsignedLong(n.getInt((int) pos));
                    long descSize = Integer.toUnsignedLong(n.getInt((int) pos + 4));
                    int type = n.getInt((int) pos + 8);
                    long name = pos + 12;
                    long desc = name + align4(nameSize);
                    long next = desc + align4(descSize);
                    if (next > n.limit()) {
                        break; // a note running past its section: the rest of the section is not notes
                    }
                    if (type == NT_GNU_BUILD_ID && nameSize == 4 && cString(n, (int) name).equals("GNU")
                            && descSize > 0) {
                        byte[] id = new byte[(int) descSize];
                        n.get((int) desc, id);
                        return Optional.of(HexFormat.of().formatHex(id));
                    }
                    pos = next;
                }
            }
            return Optional.empty();
        } catch (Malformed e) {
            return Optional.empty();
        }
    }

    /**
     * The value of the symbol {@code name} in the static symbol table (.symtab); for a BPF
     * object, a global's offset within its data section.
     */
    public Optional<Long> symbolValue(String name) {
        long[] value = {0};
        boolean found = eachSymbol(SHT_SYMTAB, (symName, symValue, shndx, info, size) -> {
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
        eachSymbol(SHT_DYNSYM, (symName, symValue, shndx, info, size) -> {
            if (shndx != 0) { // shndx 0: an import, not defined here
                names.add(symName);
            }
            return false;
        });
        return names;
    }

    /**
     * The machine code of a function defined in this file, {@code .dynsym} first, then {@code
     * .symtab} (e.g. BoringSSL's local SSL_write in netty-tcnative).
     *
     * @param name the symbol
     * @param address its virtual address ({@code st_value})
     * @param fileOffset where the function starts in the file: what a uprobe is attached at
     * @param code its bytes, {@code st_size} of them
     */
    public record FunctionCode(String name, long address, long fileOffset, byte[] code) {
    }

    /** The function {@code name}'s code; empty if no defined function symbol of that name has a size. */
    public Optional<FunctionCode> function(String name) {
        FunctionCode[] found = {null};
        for (int type : new int[] {SHT_DYNSYM, SHT_SYMTAB}) {
            eachSymbol(type, (symName, symValue, shndx, info, size) -> {
                if ((info & 0xf) != STT_FUNC || shndx == 0 || shndx >= shnum || size <= 0 || size > FUNCTION_BOUND
                        || type(shndx) == SHT_NOBITS || !symName.equals(name)) {
                    return false;
                }
                long at = offset(shndx) + symValue - address(shndx);
                if (at < 0 || at + size > src.size()) {
                    return false;
                }
                byte[] code = new byte[(int) size];
                read(at, code);
                found[0] = new FunctionCode(name, symValue, at, code);
                return true;
            });
            if (found[0] != null) {
                return Optional.of(found[0]);
            }
        }
        return Optional.empty();
    }

    /**
     * The file offsets of the functions called {@code names} in the static symbol table
     * (.symtab), local symbols included: where a uprobe on each must sit. A name that several
     * distinct functions share (static functions of different sources) maps to all their offsets,
     * so the caller can refuse the ambiguity; a name absent maps to nothing.
     */
    public Map<String, List<Long>> functionFileOffsets(Set<String> names) {
        Map<String, List<Long>> out = new LinkedHashMap<>();
        eachSymbol(SHT_SYMTAB, (symName, symValue, shndx, info, size) -> {
            // STT_FUNC, defined in a real section (not undefined, ABS or COMMON)
            if ((info & 0xf) == STT_FUNC && shndx != 0 && shndx < shnum && names.contains(symName)) {
                long fileOffset = symValue - address(shndx) + offset(shndx);
                List<Long> offsets = out.computeIfAbsent(symName, k -> new ArrayList<>());
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
        for (int i = 0; i < shnum; i++) {
            if (type(i) == SHT_SYMTAB) {
                return true;
            }
        }
        return false;
    }

    /** Sees one named symbol; returning true ends the walk. */
    private interface SymbolVisitor {
        boolean visit(String name, long value, int shndx, int info, long size);
    }

    /**
     * Walks the named symbols of every section of type {@code shType} (entry 0 is the null
     * symbol); true if the visitor ended the walk. A table whose sections cannot be read (too
     * large, a bad link) is skipped; a name outside its string table is skipped.
     */
    private boolean eachSymbol(int shType, SymbolVisitor visitor) {
        for (int i = 0; i < shnum; i++) {
            if (type(i) != shType) {
                continue;
            }
            try {
                long entSize = sh.getLong(i * 64 + 56);
                int link = sh.getInt(i * 64 + 40);
                if (entSize < 24 || entSize > 1024 || link <= 0 || link >= shnum) {
                    continue; // an Elf64_Sym is 24 bytes; less is corrupt (and 0 would never advance)
                }
                ByteBuffer syms = section(i);
                ByteBuffer strs = section(link);
                for (long e = entSize; e + entSize <= syms.limit(); e += entSize) {
                    int nameIdx = syms.getInt((int) e);
                    if (nameIdx == 0 || Integer.toUnsignedLong(nameIdx) >= strs.limit()) {
                        continue;
                    }
                    if (visitor.visit(cString(strs, nameIdx), syms.getLong((int) e + 8),
                            Short.toUnsignedInt(syms.getShort((int) e + 6)), syms.get((int) e + 4) & 0xff,
                            syms.getLong((int) e + 16))) {
                        return true;
                    }
                }
            } catch (Malformed e) {
                // this table cannot be read; others may
            }
        }
        return false;
    }

    /**
     * The first match of {@code pattern}'s group 1 in the file's read-only data (its allocated
     * sections that are neither code nor zero-filled), read as ISO-8859-1, e.g. {@code OpenSSL
     * (\d+\.\d+\.\d+[a-z]*) } finds the version libcrypto reports. Sections are searched in
     * windows of 1 MiB; a match must be shorter than 256 bytes.
     */
    public Optional<String> findString(Pattern pattern) {
        try {
            for (int i = 0; i < shnum; i++) {
                long flags = sh.getLong(i * 64 + 8);
                if (type(i) != SHT_PROGBITS || (flags & SHF_ALLOC) == 0 || (flags & SHF_EXECINSTR) != 0) {
                    continue;
                }
                long off = offset(i);
                long end = off + sh.getLong(i * 64 + 32);
                for (long at = off; at < end; at += WINDOW - OVERLAP) {
                    byte[] window = new byte[(int) Math.min(WINDOW, end - at)];
                    read(at, window);
                    Matcher m = pattern.matcher(new String(window, StandardCharsets.ISO_8859_1));
                    if (m.find()) {
                        return Optional.of(m.group(1));
                    }
                    if (at + window.length >= end) {
                        break;
                    }
                }
            }
        } catch (Malformed e) {
            // the file changed under us: nothing found
        }
        return Optional.empty();
    }

    /** The contents of the section called {@code name}, e.g. {@code .BTF}; empty if absent or too large. */
    public Optional<byte[]> section(String name) {
        try {
            if (shnum == 0) {
                return Optional.empty();
            }
            ByteBuffer names = section(shstrndx);
            for (int i = 0; i < shnum; i++) {
                long nameIdx = Integer.toUnsignedLong(sh.getInt(i * 64));
                if (nameIdx < names.limit() && cString(names, (int) nameIdx).equals(name)) {
                    ByteBuffer s = section(i);
                    byte[] out = new byte[s.limit()];
                    s.get(0, out);
                    return Optional.of(out);
                }
            }
        } catch (Malformed e) {
            // fall through
        }
        return Optional.empty();
    }

    private int type(int index) {
        return sh.getInt(index * 64 + 4);
    }

    private long address(int index) {
        return sh.getLong(index * 64 + 16);
    }

    private long offset(int index) {
        return sh.getLong(index * 64 + 24);
    }

    /** Section {@code index}'s bytes, read once; NOBITS is empty. */
    private ByteBuffer section(int index) {
        ByteBuffer b = sections.get(index);
        if (b != null) {
            return b;
        }
        long size = type(index) == SHT_NOBITS ? 0 : sh.getLong(index * 64 + 32);
        if (size > SECTION_BOUND) {
            throw new Malformed("section " + index + " has " + size + " bytes, more than " + SECTION_BOUND);
        }
        byte[] bytes = new byte[(int) size];
        read(offset(index), bytes);
        b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
        sections.put(index, b);
        return b;
    }

    private void read(long pos, byte[] dst) {
        try {
            src.read(pos, dst);
        } catch (IOException e) {
            throw new Malformed(e.getMessage());
        } catch (UncheckedIOException | IndexOutOfBoundsException e) {
            throw new Malformed(String.valueOf(e.getMessage()));
        }
    }

    /** The NUL-terminated string at {@code at} of {@code b} (to its end if unterminated). */
    private static String cString(ByteBuffer b, int at) {
        if (at < 0 || at > b.limit()) {
            throw new Malformed("string at " + at + " outside its table");
        }
        int end = at;
        while (end < b.limit() && b.get(end) != 0) {
            end++;
        }
        byte[] bytes = new byte[end - at];
        b.get(at, bytes);
        return new String(bytes, StandardCharsets.ISO_8859_1);
    }

    private static long align4(long v) {
        return (v + 3) & ~3L;
    }
}
