package io.btfagent.jetty;

import io.btfagent.demo.TlsEchoServer;
import io.btfagent.demo.TrustAll;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.Base64;
import org.eclipse.jetty.alpn.server.ALPNServerConnectionFactory;
import org.eclipse.jetty.http.HttpHeader;
import org.eclipse.jetty.http2.server.HTTP2ServerConnectionFactory;
import org.eclipse.jetty.server.Handler;
import org.eclipse.jetty.server.HttpConfiguration;
import org.eclipse.jetty.server.HttpConnectionFactory;
import org.eclipse.jetty.server.Request;
import org.eclipse.jetty.server.Response;
import org.eclipse.jetty.server.SecureRequestCustomizer;
import org.eclipse.jetty.server.Server;
import org.eclipse.jetty.server.ServerConnector;
import org.eclipse.jetty.server.SslConnectionFactory;
import org.eclipse.jetty.util.Callback;
import org.eclipse.jetty.util.ssl.SslContextFactory;

/**
 * Jetty 12 as an HTTPS server on the JDK's own TLS (HTTP/1.1 and HTTP/2 by ALPN), and in the
 * same JVM the JDK's HttpClient posting to it: {@code requests} POSTs over HTTP/1.1, then as
 * many over HTTP/2, each with an {@code Authorization} header, one client (one connection) per
 * protocol. The server answers each POST with {@link #response(byte[])} of its body.
 *
 * <p>Prints {@code port <n>}, then per request {@code <protocol>-<i> <status> <base64 of the
 * body received>}, and {@code results-ok true|false}. With {@code -Ddemo.await-go} containing
 * {@code traffic} it waits for one line on stdin before the requests.
 *
 * <p>Usage: {@code JettyHttpsServer <requests>}
 */
public final class JettyHttpsServer {
    private JettyHttpsServer() {
    }

    /** The i-th request's body. */
    public static byte[] request(String protocol, int i) {
        return ("jetty " + protocol + " request " + i + " " + "0123456789".repeat(20 + 40 * i))
                .getBytes(StandardCharsets.US_ASCII);
    }

    /** The i-th request's credential, which no sink may see. */
    public static String token(String protocol, int i) {
        return "Bearer jetty-secret-" + protocol + "-" + i;
    }

    /** What the server answers to a POST of {@code body}. */
    public static byte[] response(byte[] body) {
        byte[] head = ("jetty read " + body.length + " bytes: ").getBytes(StandardCharsets.US_ASCII);
        byte[] all = Arrays.copyOf(head, head.length + body.length);
        System.arraycopy(body, 0, all, head.length, body.length);
        return all;
    }

    public static void main(String[] args) throws Exception {
        int requests = Integer.parseInt(args[0]);
        Server server = new Server();
        HttpConfiguration config = new HttpConfiguration();
        config.setSendServerVersion(false);
        config.setSendDateHeader(false);
        config.addCustomizer(new SecureRequestCustomizer(false)); // the certificate names localhost
        HttpConnectionFactory h1 = new HttpConnectionFactory(config);
        HTTP2ServerConnectionFactory h2 = new HTTP2ServerConnectionFactory(config);
        ALPNServerConnectionFactory alpn = new ALPNServerConnectionFactory();
        alpn.setDefaultProtocol(h1.getProtocol());
        SslContextFactory.Server tls = new SslContextFactory.Server();
        tls.setSslContext(TlsEchoServer.contextForTests());
        ServerConnector connector = new ServerConnector(server, new SslConnectionFactory(tls, alpn.getProtocol()),
                alpn, h2, h1);
        connector.setHost("127.0.0.1");
        connector.setPort(0);
        server.addConnector(connector);
        server.setHandler(new Handler.Abstract() {
            @Override
            public boolean handle(Request request, Response response, Callback callback) throws Exception {
                byte[] body;
                try (InputStream in = Request.asInputStream(request)) {
                    body = in.readAllBytes();
                }
                response.setStatus(200);
                response.getHeaders().put(HttpHeader.CONTENT_TYPE, "application/octet-stream");
                response.write(true, ByteBuffer.wrap(response(body)), callback);
                return true;
            }
        });
        server.start();
        int port = connector.getLocalPort();
        System.out.println("port " + port);
        System.out.flush();
        if (System.getProperty("demo.await-go", "").contains("traffic")) {
            System.in.read();
        }
        boolean ok = true;
        try {
            for (HttpClient.Version version : new HttpClient.Version[] {HttpClient.Version.HTTP_1_1,
                    HttpClient.Version.HTTP_2}) {
                String protocol = version == HttpClient.Version.HTTP_1_1 ? "h1" : "h2";
                HttpClient client = HttpClient.newBuilder().sslContext(TrustAll.jsseContext()).version(version)
                        .connectTimeout(Duration.ofSeconds(30)).build();
                for (int i = 0; i < requests; i++) {
                    HttpResponse<byte[]> r = client.send(HttpRequest.newBuilder(
                            URI.create("https://127.0.0.1:" + port + "/echo/" + i))
                            .header("Authorization", token(protocol, i))
                            .POST(HttpRequest.BodyPublishers.ofByteArray(request(protocol, i))).build(),
                            HttpResponse.BodyHandlers.ofByteArray());
                    ok &= r.statusCode() == 200 && r.version() == version
                            && Arrays.equals(r.body(), response(request(protocol, i)));
                    System.out.println(protocol + "-" + i + " " + r.statusCode() + " "
                            + Base64.getEncoder().encodeToString(r.body()));
                }
            }
        } finally {
            server.stop();
        }
        System.out.println("results-ok " + ok);
        System.out.flush();
        System.exit(ok ? 0 : 1);
    }
}
