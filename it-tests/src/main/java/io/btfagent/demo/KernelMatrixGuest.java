package io.btfagent.demo;

import java.util.Arrays;

/**
 * What the kernel matrix (it-tests/bin/kernel-matrix.sh) runs in each kernel it boots, in one
 * JVM: a {@link TlsEchoServer} (JSSE), then requests to it through OpenSSL by wildfly-openssl
 * (a memory BIO: identity from the JVM side) and through GnuTLS on its own socket
 * ({@link GnutlsSocketClient}). Neither library is mapped when the JVM starts: with the agent's
 * {@code watch.paths=} empty, both are hooked as late loads. Prints {@code matrix: } lines that
 * the script reads; exits 0 when every response is what the server sent.
 *
 * <p>Usage: {@code KernelMatrixGuest <libgnutls.so.30 path>}; needs
 * {@code -Dorg.wildfly.openssl.path}.
 */
public final class KernelMatrixGuest {
    /** The OpenSSL requests: the last response spans several 8 KiB records. */
    public static final String[] OPENSSL_PATHS = {"/", "/bytes/300", "/bytes/20000"};
    /** The GnuTLS request. */
    public static final String GNUTLS_PATH = "/bytes/30000";

    private KernelMatrixGuest() {
    }

    public static void main(String[] args) throws Exception {
        boolean ok = true;
        try (TlsEchoServer server = new TlsEchoServer().start()) {
            System.out.println("matrix: port " + server.port());
            WildflyHttpsClient client = new WildflyHttpsClient();
            for (String path : OPENSSL_PATHS) {
                WildflyHttpsClient.Exchange e = client.get("127.0.0.1", server.port(), path);
                boolean match = Arrays.equals(e.response(), TlsEchoServer.responseFor(path));
                ok &= match;
                System.out.println("matrix: openssl GET " + path + " " + (match ? "ok" : "MISMATCH"));
            }
            GnutlsSocketClient.main(new String[] {"127.0.0.1", String.valueOf(server.port()), GNUTLS_PATH, args[0]});
            System.out.println("matrix: gnutls GET " + GNUTLS_PATH + " done");
        }
        System.out.println(ok ? "matrix: workload ok" : "matrix: workload FAILED");
        System.exit(ok ? 0 : 1);
    }
}
