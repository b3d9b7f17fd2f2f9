package io.btfagent.demo;

import com.sun.jna.Native;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;

/**
 * What the kernel matrix (it-tests/bin/kernel-matrix.sh) runs in each kernel it boots, in one
 * JVM: a {@link TlsEchoServer} (JSSE), then requests to it through OpenSSL by wildfly-openssl
 * (a memory BIO: identity from the JVM side) and through GnuTLS on its own socket
 * ({@link GnutlsSocketClient}). Neither library is mapped when the JVM starts: with the agent's
 * {@code watch.paths=} empty, both are hooked as late loads. Prints {@code matrix: } lines that
 * the script reads; exits 0 when every response is what the server sent.
 *
 * <p>Usage: {@code KernelMatrixGuest <libgnutls.so.30 path> <agent log>}; needs
 * {@code -Dorg.wildfly.openssl.path}. Under software emulation a hook takes seconds, and a
 * library that native code loads is hooked while the application goes on: each library is
 * loaded first, and its requests wait until the agent's log (its stderr, copied to the file)
 * says it is hooked, so the events can be compared byte for byte.
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
            Path log = Path.of(args[1]);
            WildflyHttpsClient client = new WildflyHttpsClient(); // maps libssl
            awaitHooked(log, "hooked openssl");
            for (String path : OPENSSL_PATHS) {
                WildflyHttpsClient.Exchange e = client.get("127.0.0.1", server.port(), path);
                boolean match = Arrays.equals(e.response(), TlsEchoServer.responseFor(path));
                ok &= match;
                System.out.println("matrix: openssl GET " + path + " " + (match ? "ok" : "MISMATCH"));
            }
            Native.load(args[0], GnutlsSocketClient.Gnutls.class); // maps libgnutls
            awaitHooked(log, "hooked gnutls");
            GnutlsSocketClient.main(new String[] {"127.0.0.1", String.valueOf(server.port()), GNUTLS_PATH, args[0]});
            System.out.println("matrix: gnutls GET " + GNUTLS_PATH + " done");
        }
        System.out.println(ok ? "matrix: workload ok" : "matrix: workload FAILED");
        System.exit(ok ? 0 : 1);
    }

    private static void awaitHooked(Path log, String line) throws Exception {
        long end = System.nanoTime() + 300_000_000_000L;
        while (!Files.readString(log).contains(line)) {
            if (System.nanoTime() > end) {
                System.out.println("matrix: no '" + line + "' in the agent's log after 300 s");
                return;
            }
            Thread.sleep(100);
        }
        System.out.println("matrix: " + line);
    }
}
