package io.btfagent.it;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;

/**
 * The netty and gRPC stacks of the BoringSSL tests: class paths from the jars Maven copied
 * (see it-tests/pom.xml), a self-signed certificate made with the openssl command, and curl.
 */
final class NettyStack {
    static final Path NETTY_LIB = Path.of(System.getProperty("netty.lib", "target/netty-lib"));
    /** netty 4.2.9, which every tcnative release of the matrix serves (see it-tests/pom.xml). */
    static final Path NETTY_MATRIX_LIB = Path.of(System.getProperty("netty.matrix.lib", "target/netty-matrix-lib"));
    static final Path TCNATIVE_DIR = Path.of(System.getProperty("tcnative.dir", "target/tcnative"));
    static final String TCNATIVE_VERSION = System.getProperty("tcnative.version", "2.0.84.Final");
    static final Path GRPC_LIB = Path.of(System.getProperty("grpc.lib", "target/grpc-lib"));
    /** The agent's log line once netty-tcnative's BoringSSL is hooked. */
    static final String HOOKED = "INFO  hooked boringssl";

    private NettyStack() {
    }

    /** Every netty-tcnative-boringssl-static release the matrix covers (tcnative.versions). */
    static List<String> tcnativeVersions() {
        return List.of(System.getProperty("tcnative.versions", TCNATIVE_VERSION).split(","));
    }

    /** The demo classes, the netty in {@code nettyLib}, and netty-tcnative {@code version} (classes and natives). */
    static String nettyClasspath(Path nettyLib, String version) throws IOException {
        return ChildJvm.CLASSPATH + ":" + jars(nettyLib) + ":" + jars(TCNATIVE_DIR.resolve(version));
    }

    /** The demo classes and grpc-netty-shaded with what it needs. */
    static String grpcClasspath() throws IOException {
        return ChildJvm.CLASSPATH + ":" + jars(GRPC_LIB);
    }

    private static String jars(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            String cp = s.filter(p -> p.toString().endsWith(".jar")).sorted().map(Path::toString)
                    .collect(Collectors.joining(":"));
            if (cp.isEmpty()) {
                throw new IllegalStateException("no jars in " + dir + "; run the build's prepare-package phase");
            }
            return cp;
        }
    }

    /** {cert.pem, key.pem} for CN=localhost and 127.0.0.1, made in {@code dir}. */
    static Path[] selfSignedCertificate(Path dir) throws IOException, InterruptedException {
        Path cert = dir.resolve("cert.pem");
        Path key = dir.resolve("key.pem");
        run(List.of("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                "-keyout", key.toString(), "-out", cert.toString(), "-days", "2", "-subj", "/CN=localhost",
                "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"), 30);
        return new Path[] {cert, key};
    }

    /** What one curl POST got back, and the local port it used. */
    record CurlResult(byte[] body, int localPort) {
    }

    /** POSTs {@code body} with curl (HTTP/1.1, the test's own certificate not checked). */
    static Process startCurlPost(int port, String body, Path out) throws IOException {
        // -w prints the local port after the response body, on a line of its own
        return new ProcessBuilder("curl", "-sS", "-k", "--http1.1", "--max-time", "30", "-H", "Expect:",
                "--data-binary", body, "-w", "\\n%{local_port}", "https://127.0.0.1:" + port + "/post")
                .redirectOutput(out.toFile()).redirectErrorStream(false)
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
    }

    static CurlResult finishCurl(Process curl, Path out) throws IOException, InterruptedException {
        try {
            if (!curl.waitFor(60, TimeUnit.SECONDS)) {
                throw new AssertionError("curl did not finish");
            }
            assertEquals(0, curl.exitValue(), "curl failed");
            byte[] all = Files.readAllBytes(out);
            int nl = lastIndexOf(all, (byte) '\n');
            return new CurlResult(java.util.Arrays.copyOf(all, nl),
                    Integer.parseInt(new String(all, nl + 1, all.length - nl - 1, StandardCharsets.US_ASCII).trim()));
        } finally {
            if (curl.isAlive()) {
                curl.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        }
    }

    private static int lastIndexOf(byte[] b, byte v) {
        for (int i = b.length - 1; i >= 0; i--) {
            if (b[i] == v) {
                return i;
            }
        }
        throw new AssertionError("no newline in curl's output");
    }

    static void run(List<String> cmd, long timeoutSeconds) throws IOException, InterruptedException {
        Process p = new ProcessBuilder(new ArrayList<>(cmd)).redirectErrorStream(true).start();
        try {
            if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                throw new AssertionError(cmd.get(0) + " did not finish");
            }
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertEquals(0, p.exitValue(), String.join(" ", cmd) + " failed:\n" + out);
        } finally {
            if (p.isAlive()) {
                p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        }
    }
}
