package io.btfagent.demo;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import org.wildfly.openssl.OpenSSLProvider;

/**
 * HTTPS client whose TLS is done by the system's native libssl through wildfly-openssl (JNI),
 * so every request and response passes through libssl's {@code SSL_write}/{@code SSL_read}.
 *
 * <p>libssl is located with the system property {@code org.wildfly.openssl.path}, for example
 * {@code -Dorg.wildfly.openssl.path=/usr/lib/x86_64-linux-gnu}. The server certificate is not
 * checked: this client only talks to the self-signed {@link TlsEchoServer} on loopback.
 *
 * <p>Usage: {@code WildflyHttpsClient <host> <port> <path> [repeat]}. For each request it prints
 * {@code local-port <n>} (its connection's), {@code request-sha256 <hex>}, {@code response-bytes <n>}, {@code response-sha256 <hex>} and
 * the response status line. Exit code 0 on success, 1 on failure.
 */
public final class WildflyHttpsClient {

    /** JCA name of wildfly-openssl's context that negotiates the highest version both sides support. */
    public static final String PROTOCOL = "openssl.TLS";

    /** One request and the complete response read until EOF. */
    public record Exchange(byte[] request, byte[] response, String tlsProtocol, String cipherSuite, int localPort) {

        /** First line of the response, without CRLF; empty if there is none. */
        public String statusLine() {
            String text = new String(response, StandardCharsets.ISO_8859_1);
            int end = text.indexOf("\r\n");
            return end < 0 ? "" : text.substring(0, end);
        }
    }

    private final SSLContext context;

    /** Registers the OpenSSL provider and creates a trust-all OpenSSL-backed context. */
    public WildflyHttpsClient() throws GeneralSecurityException {
        OpenSSLProvider.register();
        context = SSLContext.getInstance(PROTOCOL);
        context.init(null, new TrustManager[] {new TrustAll()}, null);
    }

    /**
     * The exact request bytes sent for {@code path}, with the extra header lines of
     * {@code -Ddemo.headers} (lines separated by {@code |}, e.g. {@code Authorization: Bearer x}).
     */
    public static byte[] request(String host, int port, String path) {
        return request(host, port, path, System.getProperty("demo.headers", ""));
    }

    /** The exact request bytes for {@code path} with {@code headers} ({@code |}-separated lines) added. */
    public static byte[] request(String host, int port, String path, String headers) {
        StringBuilder extra = new StringBuilder();
        for (String h : headers.split("\\|")) {
            if (!h.isEmpty()) {
                extra.append(h).append("\r\n");
            }
        }
        return ("GET " + path + " HTTP/1.1\r\n"
                + "Host: " + host + ":" + port + "\r\n"
                + "User-Agent: btf-agent-demo\r\n"
                + extra
                + "Connection: close\r\n"
                + "\r\n").getBytes(StandardCharsets.US_ASCII);
    }

    /** Opens a new connection, sends the request in one write and reads the response to EOF. */
    public Exchange get(String host, int port, String path) throws IOException {
        byte[] request = request(host, port, path);
        try (SSLSocket socket = (SSLSocket) context.getSocketFactory().createSocket(host, port)) {
            socket.startHandshake();
            OutputStream out = socket.getOutputStream();
            out.write(request);
            out.flush();
            byte[] response = readResponse(socket.getInputStream());
            return new Exchange(request, response,
                    socket.getSession().getProtocol(), socket.getSession().getCipherSuite(), socket.getLocalPort());
        }
    }

    /**
     * Reads to EOF. With {@code -Ddemo.exit-after-bytes=N} the JVM exits (status 3) as soon as
     * N bytes have arrived, in the middle of the transfer: tests use it to end a JVM while a
     * large response is being captured.
     */
    private static byte[] readResponse(java.io.InputStream in) throws IOException {
        long exitAfter = Long.getLong("demo.exit-after-bytes", -1);
        if (exitAfter < 0) {
            return in.readAllBytes();
        }
        java.io.ByteArrayOutputStream all = new java.io.ByteArrayOutputStream();
        byte[] buf = new byte[16384];
        for (int n; (n = in.read(buf)) > 0; ) {
            all.write(buf, 0, n);
            if (all.size() >= exitAfter) {
                System.out.println("exiting after " + exitAfter + " bytes");
                System.out.flush();
                System.exit(3);
            }
        }
        return all.toByteArray();
    }

    /** "{@code who} failed: ..." with the whole cause chain, for the demo mains' stderr. */
    public static String failure(String who, Throwable e) {
        StringBuilder message = new StringBuilder(who).append(" failed: ").append(e);
        for (Throwable cause = e.getCause(); cause != null; cause = cause.getCause()) {
            message.append("\n  caused by: ").append(cause);
        }
        return message.toString();
    }

    /** Lowercase hex SHA-256 of {@code data}. */
    public static String sha256(byte[] data) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(data));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is required by the Java platform", e);
        }
    }

    /** Command-line entry point; see the class description. */
    public static void main(String[] args) {
        if (args.length < 3 || args.length > 4) {
            System.err.println("usage: WildflyHttpsClient <host> <port> <path> [repeat]");
            System.exit(1);
        }
        try {
            String host = args[0];
            int port = Integer.parseInt(args[1]);
            String path = args[2];
            int repeat = args.length == 4 ? Integer.parseInt(args[3]) : 1;
            // Test harnesses control timing with -Ddemo.await-go: "load" waits for a line on stdin
            // before libssl is loaded (wildfly maps it with the SSLContext), "traffic" before the
            // first request, "load,traffic" both.
            String awaitGo = System.getProperty("demo.await-go", "");
            java.io.BufferedReader stdin = new java.io.BufferedReader(new java.io.InputStreamReader(System.in));
            if (awaitGo.contains("load")) {
                stdin.readLine();
            }
            WildflyHttpsClient client = new WildflyHttpsClient();
            if (awaitGo.contains("traffic")) {
                stdin.readLine();
            }
            for (int i = 0; i < repeat; i++) {
                Exchange exchange = client.get(host, port, path);
                if (!exchange.statusLine().startsWith("HTTP/1.1 ")) {
                    throw new IOException("no HTTP status line in " + exchange.response().length + " response bytes");
                }
                System.out.println("local-port " + exchange.localPort());
                System.out.println("request-sha256 " + sha256(exchange.request()));
                System.out.println("response-bytes " + exchange.response().length);
                System.out.println("response-sha256 " + sha256(exchange.response()));
                System.out.println(exchange.statusLine());
            }
            System.out.flush();
            System.exit(0);
        } catch (Exception | LinkageError e) {
            // LinkageError: wildfly-openssl reports a missing or unusable libssl this way.
            System.err.println(failure("WildflyHttpsClient", e));
            System.exit(1);
        }
    }
}
