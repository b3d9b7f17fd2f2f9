package io.btfagent.demo;

import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.net.URI;
import java.net.URL;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Arrays;
import javax.net.ssl.HttpsURLConnection;
import javax.net.ssl.SSLContext;

/**
 * HTTPS requests made entirely with the JDK's own TLS (JSSE) to a {@link TlsEchoServer} in
 * this JVM (its side is an SSLSocket): with {@code java.net.http.HttpClient} (HTTP/1.1, over an
 * SSLEngine) or {@code HttpsURLConnection} (an SSLSocket); or, with {@code wildfly}, from
 * wildfly-openssl's engine over the system's libssl (native: captured by the probes) to the same
 * JSSE server. Prints {@code body-ok true} when
 * every response body is the server's, and {@code server-port <port>}.
 *
 * <p>Arguments: {@code httpclient|urlconnection|wildfly path [requests]}. With {@code -Ddemo.await-go}
 * containing {@code traffic} it reads a line from stdin before the requests.
 */
public final class JsseClients {
    private JsseClients() {
    }

    public static void main(String[] args) throws Exception {
        // the server's certificate is self-signed for 127.0.0.1: this test client trusts it
        System.setProperty("jdk.internal.httpclient.disableHostnameVerification", "true");
        String mode = args[0];
        String path = args[1];
        int requests = args.length > 2 ? Integer.parseInt(args[2]) : 1;
        SSLContext trustAll = TrustAll.jsseContext();
        boolean ok = true;
        try (TlsEchoServer server = new TlsEchoServer().start()) {
            System.out.println("server-port " + server.port());
            if (System.getProperty("demo.await-go", "").contains("traffic")) {
                System.in.read();
            }
            byte[] expected = TlsEchoServer.bodyFor(path);
            String url = "https://127.0.0.1:" + server.port() + path;
            for (int i = 0; i < requests; i++) {
                byte[] body;
                if (mode.equals("httpclient")) {
                    HttpClient client = HttpClient.newBuilder().sslContext(trustAll)
                            .version(HttpClient.Version.HTTP_1_1).connectTimeout(Duration.ofSeconds(30)).build();
                    body = client.send(HttpRequest.newBuilder(URI.create(url)).GET().build(),
                            HttpResponse.BodyHandlers.ofByteArray()).body();
                } else if (mode.equals("wildfly")) {
                    byte[] response = new WildflyHttpsClient().get("127.0.0.1", server.port(), path).response();
                    byte[] all = TlsEchoServer.responseFor(path);
                    body = Arrays.equals(all, response) ? expected : response;
                } else {
                    HttpsURLConnection c = (HttpsURLConnection) new URL(url).openConnection();
                    c.setSSLSocketFactory(trustAll.getSocketFactory());
                    c.setHostnameVerifier((host, session) -> true);
                    try (InputStream in = c.getInputStream()) {
                        ByteArrayOutputStream b = new ByteArrayOutputStream();
                        in.transferTo(b);
                        body = b.toByteArray();
                    }
                    c.disconnect();
                }
                ok &= Arrays.equals(expected, body);
            }
        }
        System.out.println("body-ok " + ok);
        System.out.flush();
        System.exit(ok ? 0 : 1);
    }
}
