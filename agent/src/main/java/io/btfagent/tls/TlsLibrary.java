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
 */
public record TlsLibrary(Path path, String family, String buildId, List<String> functions) {

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
        return family.equals("gnutls") ? gnutls(file) : openssl(file);
    }

    /** Reads a GnuTLS libgnutls file; fails if it has no build-id or lacks the record functions. */
    public static TlsLibrary gnutls(Path libgnutls) throws IOException {
        ElfFile elf = ElfFile.open(libgnutls);
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
        ElfFile elf = ElfFile.open(libssl);
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
                try {
                    Optional<String> v = ElfFile.open(p).findString(OPENSSL_VERSION);
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
        if (family.equals("gnutls")) {
            try {
                return ElfFile.open(path).findString(GNUTLS_VERSION);
            } catch (IOException e) {
                return Optional.empty();
            }
        }
        return opensslVersion(path);
    }

    /** Cookie value of a function (its FUNC_ value in enum capture_func), -1 if it is not hooked. */
    public static int functionId(String function) {
        return CaptureFunction.bySymbol(function).map(CaptureFunction::id).orElse(-1);
    }
}
