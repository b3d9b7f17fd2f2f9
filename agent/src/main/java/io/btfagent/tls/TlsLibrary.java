package io.btfagent.tls;

import io.btfagent.elf.ElfFile;
import io.btfagent.event.CaptureFunction;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Pattern;

/**
 * A TLS library build: its file, family, GNU build-id, the version it reports, and which of
 * the hooked functions it exports.
 *
 * @param functions hookable functions present, in cookie order (see capture_event.h)
 * @param offsets where each of {@code functions} starts in the file, for functions the
 *     library does not export (BoringSSL's local symbols); empty when the probes attach by
 *     exported name
 * @param freeOffset where {@link #free()} starts in the file when it is not exported (BoringSSL),
 *     0 when the probe attaches by name, -1 when the library has none to probe
 */
public record TlsLibrary(Path path, String family, String buildId, List<String> functions, List<Long> offsets,
        long freeOffset) {

    public TlsLibrary(Path path, String family, String buildId, List<String> functions, List<Long> offsets) {
        this(path, family, buildId, functions, offsets, 0);
    }

    public TlsLibrary(Path path, String family, String buildId, List<String> functions) {
        this(path, family, buildId, functions, List.of());
    }

    /**
     * netty-tcnative's JNI entry point: plain netty and every shaded copy (grpc-netty-shaded's
     * {@code libio_grpc_netty_shaded_netty_tcnative_linux_x86_64.so}) export it under this name,
     * whatever the file is called.
     */
    static final String TCNATIVE_JNI_ONLOAD = "JNI_OnLoad_netty_tcnative";
    /** A function only BoringSSL has (its power-on self test), to tell it from a static OpenSSL. */
    static final String BORINGSSL_MARKER = "BORINGSSL_self_test";

    /** Every hooked function in the order of enum capture_func: the index is the probe's cookie. */
    public static final List<String> FUNCTIONS = CaptureFunction.symbols();
    public static final List<String> OPENSSL_FUNCTIONS = FUNCTIONS.subList(0, 4);
    public static final List<String> GNUTLS_FUNCTIONS = FUNCTIONS.subList(4, 6);

    private static final Pattern OPENSSL_VERSION = Pattern.compile("OpenSSL (\\d+\\.\\d+\\.\\d+[a-z]*) ");
    // "Enabled GnuTLS 3.7.9 logging...", a debug message every GnuTLS 3.x carries
    private static final Pattern GNUTLS_VERSION = Pattern.compile("GnuTLS (\\d+\\.\\d+\\.\\d+) logging");

    /** Reads a TLS library file, its family told by its name (see {@link LibraryScanner}). */
    public static TlsLibrary open(Path file) throws IOException {
        String family = LibraryScanner.family(file.getFileName().toString())
                .orElseThrow(() -> new IOException(file + " is not a TLS library btf-agent knows"));
        return open(file, family);
    }

    /**
     * Reads a library found by the scan: a deleted file (and netty-tcnative, whatever its name)
     * through its {@code attachPath}, a present one by its name, so that OpenSSL's libcrypto
     * beside it can still be found for the version.
     */
    public static TlsLibrary open(LibraryScanner.LibraryFile found) throws IOException {
        boolean byName = !found.deleted() && !found.family().equals("boringssl");
        return open(byName ? found.path() : found.attachPath(), found.family());
    }

    /** Reads {@code file} (which may be a {@code /proc/self/map_files} link) as a library of {@code family}. */
    public static TlsLibrary open(Path file, String family) throws IOException {
        return switch (family) {
            case "gnutls" -> gnutls(file);
            case "boringssl" -> boringssl(file);
            default -> openssl(file);
        };
    }

    /**
     * Whether {@code elf} is netty-tcnative (any shading of it): a JNI library exporting
     * {@value #TCNATIVE_JNI_ONLOAD}. Reads only the small dynamic symbol table, so every mapped
     * library can be asked once.
     */
    public static boolean isTcnative(ElfFile elf) {
        return elf.dynamicSymbols().contains(TCNATIVE_JNI_ONLOAD);
    }

    /**
     * Reads netty-tcnative-boringssl-static's library (plain or shaded). BoringSSL is linked in
     * statically and its functions are LOCAL symbols of {@code .symtab}: the probes sit at their
     * file offsets. netty drives every {@code SSL*} of this library over its ByteBuffer BIO (the
     * only BIO its JNI code ever gives {@code SSL_set_bio}; no other code can reach these local
     * functions), so the program reads no BoringSSL struct and needs no BTF of the build.
     */
    public static TlsLibrary boringssl(Path file) throws IOException {
        try (ElfFile elf = ElfFile.open(file)) {
            return boringssl(file, elf);
        }
    }

    private static TlsLibrary boringssl(Path file, ElfFile elf) throws IOException {
        String buildId = elf.buildId().orElse("none");
        if (!isTcnative(elf)) {
            throw new IOException(file + " is not netty-tcnative (it exports no " + TCNATIVE_JNI_ONLOAD + ")");
        }
        if (!elf.hasStaticSymbolTable()) {
            throw new IOException(file + " (netty-tcnative, build-id " + buildId + ") is stripped of its symbol table, "
                    + "so SSL_read/SSL_write cannot be found; use netty-tcnative-boringssl-static as published");
        }
        Set<String> wanted = new java.util.HashSet<>(OPENSSL_FUNCTIONS);
        wanted.add(BORINGSSL_MARKER);
        wanted.add("SSL_free");
        java.util.Map<String, List<Long>> found = elf.functionFileOffsets(wanted);
        if (!found.containsKey(BORINGSSL_MARKER)) {
            throw new IOException(file + " (netty-tcnative, build-id " + buildId + ") is not linked with BoringSSL "
                    + "(no " + BORINGSSL_MARKER + "); only netty-tcnative-boringssl-static is hooked");
        }
        List<String> functions = new ArrayList<>();
        List<Long> offsets = new ArrayList<>();
        for (String f : OPENSSL_FUNCTIONS) {
            List<Long> at = found.get(f);
            if (at == null) {
                continue;
            }
            if (at.size() > 1) {
                throw new IOException(file + " has " + at.size() + " functions called " + f + "; not hooking an "
                        + "ambiguous symbol");
            }
            functions.add(f);
            offsets.add(at.get(0));
        }
        if (!functions.contains("SSL_write") || !functions.contains("SSL_read")) {
            throw new IOException(file + " (netty-tcnative, build-id " + buildId + ") has no SSL_read/SSL_write in "
                    + "its symbol table");
        }
        // SSL_free ends a conn; without it (never seen) conns are still numbered, but a reused
        // pointer would continue the old one
        List<Long> free = found.get("SSL_free");
        long freeOffset = free != null && free.size() == 1 ? free.get(0) : -1;
        return new TlsLibrary(file, "boringssl", buildId, List.copyOf(functions), List.copyOf(offsets), freeOffset);
    }

    /** Reads a GnuTLS libgnutls file; fails if it has no build-id or lacks the record functions. */
    public static TlsLibrary gnutls(Path libgnutls) throws IOException {
        try (ElfFile elf = ElfFile.open(libgnutls)) {
            return gnutls(libgnutls, elf);
        }
    }

    private static TlsLibrary gnutls(Path libgnutls, ElfFile elf) throws IOException {
        String buildId = elf.buildId()
                .orElseThrow(() -> new IOException(libgnutls + " has no GNU build-id, so its BTF cannot be chosen safely"));
        Set<String> symbols = elf.dynamicSymbols();
        if (!symbols.containsAll(GNUTLS_FUNCTIONS)) {
            throw new IOException(libgnutls + " does not export gnutls_record_recv and gnutls_record_send");
        }
        return new TlsLibrary(libgnutls, "gnutls", buildId, GNUTLS_FUNCTIONS);
    }

    /** Reads an OpenSSL libssl file; fails if it is not ELF, has no build-id or no SSL_write. */
    public static TlsLibrary openssl(Path libssl) throws IOException {
        try (ElfFile elf = ElfFile.open(libssl)) {
            return openssl(libssl, elf);
        }
    }

    private static TlsLibrary openssl(Path libssl, ElfFile elf) throws IOException {
        String buildId = elf.buildId()
                .orElseThrow(() -> new IOException(libssl + " has no GNU build-id, so its BTF cannot be chosen safely"));
        Set<String> symbols = elf.dynamicSymbols();
        List<String> functions = new ArrayList<>();
        for (String f : OPENSSL_FUNCTIONS) {
            if (symbols.contains(f)) {
                functions.add(f);
            }
        }
        if (!functions.contains("SSL_write") || !functions.contains("SSL_read")) {
            throw new IOException(libssl + " does not export SSL_read and SSL_write; not an OpenSSL libssl");
        }
        return new TlsLibrary(libssl, "openssl", buildId, List.copyOf(functions));
    }

    /**
     * OpenSSL keeps its version string in libcrypto, which sits next to libssl with the same
     * suffix (libssl.so.3 / libcrypto.so.3).
     */
    static Optional<String> opensslVersion(Path libssl) {
        String name = libssl.getFileName().toString();
        Path crypto = libssl.resolveSibling(name.replaceFirst("^libssl", "libcrypto"));
        for (Path p : List.of(crypto, libssl)) {
            if (Files.isRegularFile(p)) {
                try (ElfFile elf = ElfFile.open(p)) {
                    Optional<String> v = elf.findString(OPENSSL_VERSION);
                    if (v.isPresent()) {
                        return v;
                    }
                } catch (IOException ignored) {
                    // try the next candidate
                }
            }
        }
        return Optional.empty();
    }

    /**
     * The version the library reports (OpenSSL's libcrypto beside it, or libgnutls itself).
     * Reads megabytes, so it is asked only for builds the catalog does not know.
     */
    public Optional<String> reportedVersion() {
        if (family.equals("boringssl")) {
            return Optional.empty(); // BoringSSL has no version, and netty-tcnative's file names none
        }
        if (family.equals("gnutls")) {
            try (ElfFile elf = ElfFile.open(path)) {
                return elf.findString(GNUTLS_VERSION);
            } catch (IOException e) {
                return Optional.empty();
            }
        }
        return opensslVersion(path);
    }

    /**
     * The function that frees one of the family's TLS objects (probed so that a pointer reused
     * after it starts a new conn).
     */
    public String free() {
        return family.equals("gnutls") ? "gnutls_deinit" : "SSL_free";
    }

    /** The probe on {@link #free()}, or null when the library has none to probe. */
    public io.btfagent.bpf.CaptureObject.FreeProbe freeProbe() {
        return freeOffset < 0 ? null : new io.btfagent.bpf.CaptureObject.FreeProbe(free(), freeOffset);
    }

    /** Cookie value of a function (its FUNC_ value in enum capture_func), -1 if it is not hooked. */
    public static int functionId(String function) {
        return CaptureFunction.bySymbol(function).map(CaptureFunction::id).orElse(-1);
    }
}
