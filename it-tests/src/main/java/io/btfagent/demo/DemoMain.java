package io.btfagent.demo;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HexFormat;

/**
 * Self-contained demo: starts a {@link TlsEchoServer} in this JVM and sends a few requests to it
 * with {@link WildflyHttpsClient}. Only the client side uses libssl (the server is JSSE), so an
 * agent probing {@code SSL_write}/{@code SSL_read} sees each request once as written and each
 * response once as read.
 *
 * <p>Needs {@code -Dorg.wildfly.openssl.path=<directory containing libssl>}. Exits 0 when every
 * response matches what the server is expected to send, 1 otherwise.
 */
public final class DemoMain {

    private static final String[] PATHS = {"/", "/bytes/300", "/"};

    private DemoMain() {
    }

    /** Runs the demo; takes no arguments. */
    public static void main(String[] args) throws Exception {
        boolean ok = true;
        try (TlsEchoServer server = new TlsEchoServer().start()) {
            System.out.println("server listening on 127.0.0.1:" + server.port() + " (JSSE)");
            WildflyHttpsClient client = new WildflyHttpsClient();
            if (System.getProperty("demo.await-go", "").contains("traffic")) {
                // a harness sends a line once the agent is ready (-Ddemo.await-go=traffic)
                new java.io.BufferedReader(new java.io.InputStreamReader(System.in)).readLine();
            }
            for (String path : PATHS) {
                WildflyHttpsClient.Exchange exchange = client.get("127.0.0.1", server.port(), path);
                boolean match = Arrays.equals(exchange.response(), TlsEchoServer.responseFor(path));
                ok &= match;
                System.out.printf("GET %s -> %s, %d bytes over %s (%s), %s%n",
                        path, exchange.statusLine(), exchange.response().length,
                        exchange.tlsProtocol(), exchange.cipherSuite(), match ? "as expected" : "MISMATCH");
                System.out.println("  body: " + preview(exchange.response()));
            }
        }
        System.out.println(ok ? "demo ok" : "demo FAILED");
        System.exit(ok ? 0 : 1);
    }

    /** First bytes of the body: text as-is, binary as hex. */
    private static String preview(byte[] response) {
        String text = new String(response, StandardCharsets.ISO_8859_1);
        int start = text.indexOf("\r\n\r\n") + 4;
        byte[] body = Arrays.copyOfRange(response, start, Math.min(response.length, start + 32));
        boolean printable = true;
        for (byte b : body) {
            printable &= (b >= 0x20 && b < 0x7f) || b == '\n';
        }
        String shown = printable
                ? new String(body, StandardCharsets.US_ASCII).replace("\n", "\\n")
                : HexFormat.of().formatHex(body);
        return response.length - start > body.length ? shown + "..." : shown;
    }
}
