package io.btfagent.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.Path;

/** Locates the files the tests read: checked-in fixtures and build outputs on the test classpath. */
public final class Fixtures {
    /** The libssl stand-in built by src/test/resources/fixtures/make-fixtures.sh. */
    public static final String FAKE_LIBSSL = "fixtures/ssl/libssl.so.3";
    /** The same source without SSL_write. */
    public static final String FAKE_LIBSSL_NO_WRITE = "fixtures/nowrite/libssl.so.3";
    /** The same source linked with --build-id=none. */
    public static final String FAKE_LIBSSL_NO_BUILD_ID = "fixtures/nobuildid/libssl.so.3";
    /** A libcrypto stand-in reporting "OpenSSL 1.2.3z". */
    public static final String FAKE_LIBCRYPTO = "fixtures/crypto/libcrypto.so.3";

    /** GNU build-id of {@link #FAKE_LIBSSL}, as printed by {@code readelf -n}. */
    public static final String FAKE_LIBSSL_BUILD_ID = "da5bb4431ccc7ecd8d3d2f66b2f6288843e9568e";
    /** GNU build-id of {@link #FAKE_LIBSSL_NO_WRITE}, as printed by {@code readelf -n}. */
    public static final String FAKE_LIBSSL_NO_WRITE_BUILD_ID = "4a3f6ca8e78f88f438c50e859c5f82af9ae33dfb";

    /** The bundled catalog's one OpenSSL build (Debian 12, libssl3 3.0.19-1~deb12u2). */
    public static final String CATALOG_BUILD_ID = "c0b9959017cf64b03131964573944fc72958bb2b";
    public static final String CATALOG_BTF_RESOURCE = "io/btfagent/btf/catalog/openssl/3.0.19-c0b9959017cf.btf";
    /** The catalog as checked in, relative to the agent module (surefire's working directory). */
    public static final Path CATALOG_DIR = Path.of("..", "native-targets", "catalog");

    /** The BPF object, on the test classpath through the btf-agent-bpf dependency. */
    public static final String BPF_OBJECT_RESOURCE = "io/btfagent/bpf/ssl_capture.bpf.o";

    private Fixtures() {
    }

    public static Path path(String resource) {
        URL url = Fixtures.class.getClassLoader().getResource(resource);
        if (url == null) {
            throw new IllegalStateException("test resource " + resource + " is not on the classpath");
        }
        try {
            return Path.of(url.toURI());
        } catch (URISyntaxException e) {
            throw new IllegalStateException(e);
        }
    }

    public static byte[] bytes(String resource) {
        try (InputStream in = Fixtures.class.getClassLoader().getResourceAsStream(resource)) {
            if (in == null) {
                throw new IllegalStateException("test resource " + resource + " is not on the classpath");
            }
            return in.readAllBytes();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }
}
