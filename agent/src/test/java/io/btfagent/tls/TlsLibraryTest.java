package io.btfagent.tls;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.btfagent.testing.Fixtures;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class TlsLibraryTest {
    @TempDir
    Path dir;

    @Test
    void opensslFixtureIsRecognised() throws IOException {
        Path path = Fixtures.path(Fixtures.FAKE_LIBSSL);
        TlsLibrary lib = TlsLibrary.openssl(path);
        assertEquals(path, lib.path());
        assertEquals("openssl", lib.family());
        assertEquals(Fixtures.FAKE_LIBSSL_BUILD_ID, lib.buildId());
        assertEquals(Optional.of("9.8.7"), lib.reportedVersion(), "no libcrypto.so.3 beside it: read from libssl");
        assertEquals(List.of("SSL_read", "SSL_read_ex", "SSL_write", "SSL_write_ex"), lib.functions());
    }

    @Test
    void versionComesFromTheSiblingLibcryptoFirst() throws IOException {
        Path libssl = Files.copy(Fixtures.path(Fixtures.FAKE_LIBSSL), dir.resolve("libssl.so.3"));
        Files.copy(Fixtures.path(Fixtures.FAKE_LIBCRYPTO), dir.resolve("libcrypto.so.3"));
        assertEquals(Optional.of("1.2.3z"), TlsLibrary.openssl(libssl).reportedVersion());
    }

    @Test
    void unreadableSiblingLibcryptoFallsBackToLibssl() throws IOException {
        Path libssl = Files.copy(Fixtures.path(Fixtures.FAKE_LIBSSL), dir.resolve("libssl.so.3"));
        // Not ELF: ElfFile refuses it, although its text would match the pattern.
        Files.writeString(dir.resolve("libcrypto.so.3"), "OpenSSL 6.6.6 not a library " + "x".repeat(100));
        assertEquals(Optional.of("9.8.7"), TlsLibrary.openssl(libssl).reportedVersion());
    }

    @Test
    void siblingWithOtherSuffixIsNotUsed() throws IOException {
        Path libssl = Files.copy(Fixtures.path(Fixtures.FAKE_LIBSSL), dir.resolve("libssl.so.1.1"));
        Files.copy(Fixtures.path(Fixtures.FAKE_LIBCRYPTO), dir.resolve("libcrypto.so.3"));
        assertEquals(Optional.of("9.8.7"), TlsLibrary.openssl(libssl).reportedVersion());
    }

    @Test
    void libraryWithoutSslWriteIsRefused() {
        Path path = Fixtures.path(Fixtures.FAKE_LIBSSL_NO_WRITE);
        IOException e = assertThrows(IOException.class, () -> TlsLibrary.openssl(path));
        assertEquals(path + " does not export SSL_read and SSL_write; not an OpenSSL libssl", e.getMessage());
    }

    @Test
    void libraryWithoutBuildIdIsRefused() {
        Path path = Fixtures.path(Fixtures.FAKE_LIBSSL_NO_BUILD_ID);
        IOException e = assertThrows(IOException.class, () -> TlsLibrary.openssl(path));
        assertEquals(path + " has no GNU build-id, so its BTF cannot be chosen safely", e.getMessage());
    }

    @Test
    void libraryWithoutTlsFunctionsIsRefused() {
        Path path = Fixtures.path(Fixtures.FAKE_LIBCRYPTO);
        assertThrows(IOException.class, () -> TlsLibrary.openssl(path));
    }

    @Test
    void nonElfIsRefused() throws IOException {
        Path f = dir.resolve("libssl.so");
        Files.writeString(f, "INPUT(libssl.so.3)\n" + " ".repeat(100));
        assertEquals(f + " is not an ELF file", assertThrows(IOException.class, () -> TlsLibrary.openssl(f)).getMessage());
    }

    /**
     * A file with a valid ELF header but cut short (e.g. a partly written or truncated library in
     * a watched directory) must be refused with an IOException like any other unusable file:
     * Capture.hook only catches IOException around TlsLibrary.openssl, so anything else escapes
     * scan() and stops capture for every library.
     */
    @Test
    void truncatedElfIsRefusedWithIOException() throws IOException {
        byte[] whole = Files.readAllBytes(Fixtures.path(Fixtures.FAKE_LIBSSL));
        Path f = Files.write(dir.resolve("libssl.so.3"), Arrays.copyOf(whole, 4096));
        assertThrows(IOException.class, () -> TlsLibrary.openssl(f));
    }

    @Test
    void functionIdsAreTheCookieValues() {
        assertEquals(0, TlsLibrary.functionId("SSL_read"));
        assertEquals(1, TlsLibrary.functionId("SSL_read_ex"));
        assertEquals(2, TlsLibrary.functionId("SSL_write"));
        assertEquals(3, TlsLibrary.functionId("SSL_write_ex"));
        assertEquals(-1, TlsLibrary.functionId("SSL_peek"));
    }

    @Test
    void functionOrderMatchesTheBpfEnum() throws IOException {
        // enum capture_func in capture_event.h is what the kernel side writes into the cookie.
        String header = Files.readString(Path.of("..", "bpf", "src", "main", "bpf", "capture_event.h"));
        Matcher m = Pattern.compile("FUNC_(SSL_[A-Z_]+?) = (\\d+),").matcher(header);
        Map<Integer, String> byValue = new LinkedHashMap<>();
        while (m.find()) {
            byValue.put(Integer.parseInt(m.group(2)), m.group(1));
        }
        assertEquals(Map.of(0, "SSL_READ", 1, "SSL_READ_EX", 2, "SSL_WRITE", 3, "SSL_WRITE_EX"), byValue);
        for (int i = 0; i < TlsLibrary.OPENSSL_FUNCTIONS.size(); i++) {
            assertEquals(byValue.get(i), TlsLibrary.OPENSSL_FUNCTIONS.get(i).toUpperCase(java.util.Locale.ROOT));
        }
        assertEquals(4, TlsLibrary.OPENSSL_FUNCTIONS.size());
    }
}
