package io.btfagent.demo;

import jakarta.servlet.http.HttpServlet;
import jakarta.servlet.http.HttpServletRequest;
import jakarta.servlet.http.HttpServletResponse;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.apache.catalina.Context;
import org.apache.catalina.connector.Connector;
import org.apache.catalina.startup.Tomcat;
import org.apache.tomcat.util.net.SSLHostConfig;
import org.apache.tomcat.util.net.SSLHostConfigCertificate;

/**
 * Tomcat embedded with an HTTPS connector whose TLS is one of its OpenSSL engines, each driving
 * the system's libssl over a memory BIO: {@code ffm}, the FFM (Panama) engine
 * ({@code org.apache.tomcat.util.net.openssl.panama}, JDK 22+), or {@code jni}, the JNI engine
 * on Tomcat Native ({@code libtcnative-1}, loaded by the {@code AprLifecycleListener}). Every
 * request body is answered with {@code echo <n> bytes: } followed by the body.
 *
 * <p>Usage: {@code TomcatOpenSslServer <cert.pem> <key.pem> <work dir> [ffm|jni|jsse]} (ffm by
 * default; {@code jsse}: Tomcat's JSSE engine instead, for comparison). Prints {@code port <n>} once it listens on 127.0.0.1 (a free port) and stops when
 * stdin closes or gives a line.
 */
public final class TomcatOpenSslServer {
    static final String FFM_IMPLEMENTATION = "org.apache.tomcat.util.net.openssl.panama.OpenSSLImplementation";
    static final String JNI_IMPLEMENTATION = "org.apache.tomcat.util.net.openssl.OpenSSLImplementation";
    /** Tomcat's JSSE implementation: the JDK's own TLS, captured in Java, not by the probes. */
    static final String JSSE_IMPLEMENTATION = "org.apache.tomcat.util.net.jsse.JSSEImplementation";

    private TomcatOpenSslServer() {
    }

    /** The response body for a request body. */
    public static byte[] responseBody(byte[] request) {
        byte[] head = ("echo " + request.length + " bytes: ").getBytes(StandardCharsets.US_ASCII);
        byte[] out = new byte[head.length + request.length];
        System.arraycopy(head, 0, out, 0, head.length);
        System.arraycopy(request, 0, out, head.length, request.length);
        return out;
    }

    public static void main(String[] args) throws Exception {
        Path work = Files.createDirectories(Path.of(args[2]));
        boolean jni = args.length > 3 && args[3].equals("jni");
        Tomcat tomcat = new Tomcat();
        tomcat.setBaseDir(work.toString());
        if (jni) {
            // loads Tomcat Native and initialises OpenSSL through it, as a Tomcat server.xml would
            tomcat.getServer().addLifecycleListener(new org.apache.catalina.core.AprLifecycleListener());
        }
        Connector connector = new Connector("org.apache.coyote.http11.Http11NioProtocol");
        connector.setPort(0);
        connector.setProperty("address", "127.0.0.1");
        connector.setSecure(true);
        connector.setScheme("https");
        connector.setProperty("SSLEnabled", "true");
        SSLHostConfig host = new SSLHostConfig();
        host.setSslProtocol("TLS");
        SSLHostConfigCertificate cert = new SSLHostConfigCertificate(host, SSLHostConfigCertificate.Type.UNDEFINED);
        cert.setCertificateFile(Path.of(args[0]).toAbsolutePath().toString());
        cert.setCertificateKeyFile(Path.of(args[1]).toAbsolutePath().toString());
        host.addCertificate(cert);
        connector.addSslHostConfig(host);
        boolean jsse = args.length > 3 && args[3].equals("jsse");
        connector.setProperty("sslImplementationName", jsse ? JSSE_IMPLEMENTATION
                : jni ? JNI_IMPLEMENTATION : FFM_IMPLEMENTATION);
        tomcat.getService().addConnector(connector);
        tomcat.setConnector(connector);

        Context ctx = tomcat.addContext("", null);
        Tomcat.addServlet(ctx, "echo", new HttpServlet() {
            private static final long serialVersionUID = 1L;

            @Override
            protected void doPost(HttpServletRequest req, HttpServletResponse resp) throws IOException {
                byte[] body = responseBody(req.getInputStream().readAllBytes());
                resp.setContentType("application/octet-stream");
                resp.setContentLength(body.length);
                resp.getOutputStream().write(body);
            }
        });
        ctx.addServletMappingDecoded("/*", "echo");
        tomcat.start();
        System.out.println("tomcat " + org.apache.catalina.util.ServerInfo.getServerNumber());
        System.out.println("port " + connector.getLocalPort());
        System.out.flush();
        new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)).readLine();
        tomcat.stop();
        tomcat.destroy();
        System.exit(0);
    }
}
