package io.btfagent.demo;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.security.Provider;
import java.security.SecureRandom;
import java.util.Arrays;
import java.util.Base64;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLEngineResult;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.SSLSocketFactory;
import javax.net.ssl.TrustManager;

/**
 * A client and a server of one JSSE provider other than the JDK's (Conscrypt or BouncyCastle)
 * talking to each other in one JVM: the client sends {@link #request()} and the server answers
 * {@link #response()}.
 *
 * <p>Modes: {@code socket}, the provider's SSLSocket and SSLServerSocket over loopback TCP (the
 * client writes the request with {@code write(b, off, len)} then its last byte with
 * {@code write(int)}; it reads the response's first byte with {@code read()}, the rest with
 * {@code read(b, off, len)}); {@code layered}, the same with the client's SSLSocket layered over
 * a connected plain socket ({@code createSocket(socket, host, port, autoClose)}); {@code engine}, two of the provider's SSLEngines handing their
 * records to each other in memory.
 *
 * <p>Prints {@code server-got <base64>}, {@code client-got <base64>}, in socket modes
 * {@code server-port <n>} and {@code client-port <n>}, then {@code ok true|false}. With
 * {@code -Ddemo.await-go} containing {@code traffic} it waits for one line on stdin first.
 *
 * <p>Usage: {@code ProviderTls conscrypt|bc socket|layered|engine}
 */
public final class ProviderTls {
    private ProviderTls() {
    }

    public static byte[] request() {
        return ("provider request " + "qrstuvwxyz".repeat(30) + "!").getBytes(StandardCharsets.US_ASCII);
    }

    public static byte[] response() {
        return ("provider response " + "0123456789".repeat(50) + ".").getBytes(StandardCharsets.US_ASCII);
    }

    private static Provider provider(String name) throws ReflectiveOperationException {
        if (name.equals("conscrypt")) {
            return (Provider) Class.forName("org.conscrypt.Conscrypt").getMethod("newProvider").invoke(null);
        }
        // with BouncyCastle's own crypto: the JDK's providers lack the RSA-PSS names it asks for
        Provider crypto = (Provider) Class.forName("org.bouncycastle.jce.provider.BouncyCastleProvider")
                .getConstructor().newInstance();
        return (Provider) Class.forName("org.bouncycastle.jsse.provider.BouncyCastleJsseProvider")
                .getConstructor(Provider.class).newInstance(crypto);
    }

    public static void main(String[] args) throws Exception {
        Provider provider = provider(args[0]);
        String mode = args[1];
        SSLContext server = SSLContext.getInstance("TLS", provider);
        // BouncyCastle chooses keys by its own key types: its own key manager ("PKIX")
        server.init(args[0].equals("bc")
                ? TlsEchoServer.keyManagersForTests(javax.net.ssl.KeyManagerFactory.getInstance("PKIX", provider))
                : TlsEchoServer.keyManagersForTests(), null, new SecureRandom());
        SSLContext client = SSLContext.getInstance("TLS", provider);
        client.init(null, new TrustManager[] {new TrustAll()}, new SecureRandom());
        if (System.getProperty("demo.await-go", "").contains("traffic")) {
            System.in.read();
        }
        byte[][] got = mode.equals("engine") ? engines(client, server)
                : sockets(client, server, mode.equals("layered"));
        System.out.println("server-got " + Base64.getEncoder().encodeToString(got[0]));
        System.out.println("client-got " + Base64.getEncoder().encodeToString(got[1]));
        boolean ok = Arrays.equals(got[0], request()) && Arrays.equals(got[1], response());
        System.out.println("ok " + ok);
        System.out.flush();
        System.exit(ok ? 0 : 1);
    }

    private static byte[][] sockets(SSLContext clientContext, SSLContext serverContext, boolean layered)
            throws Exception {
        SSLSocketFactory factory = clientContext.getSocketFactory();
        javax.net.ssl.SSLServerSocketFactory serverFactory = serverContext.getServerSocketFactory();
        byte[] request = request();
        byte[] response = response();
        try (SSLServerSocket listening = (SSLServerSocket) serverFactory.createServerSocket(0, 1,
                InetAddress.getLoopbackAddress())) {
            System.out.println("server-port " + listening.getLocalPort());
            CompletableFuture<byte[]> served = CompletableFuture.supplyAsync(() -> {
                try (Socket s = listening.accept()) {
                    byte[] in = readFully(s.getInputStream(), request.length);
                    OutputStream out = s.getOutputStream();
                    out.write(response, 0, response.length);
                    out.flush();
                    readFully(s.getInputStream(), 0); // until the client closes
                    return in;
                } catch (IOException e) {
                    throw new RuntimeException(e);
                }
            });
            byte[] answer;
            InetAddress loopback = InetAddress.getLoopbackAddress();
            try (SSLSocket s = (SSLSocket) (layered
                    ? factory.createSocket(new Socket(loopback, listening.getLocalPort()), loopback.getHostAddress(),
                            listening.getLocalPort(), true)
                    : factory.createSocket(loopback, listening.getLocalPort()))) {
                System.out.println("client-port " + s.getLocalPort());
                OutputStream out = s.getOutputStream();
                out.write(request, 0, request.length - 1);
                out.write(request[request.length - 1]);
                out.flush();
                InputStream in = s.getInputStream();
                int first = in.read();
                byte[] rest = readFully(in, response.length - 1);
                answer = new byte[rest.length + 1];
                answer[0] = (byte) first;
                System.arraycopy(rest, 0, answer, 1, rest.length);
            }
            return new byte[][] {served.get(60, TimeUnit.SECONDS), answer};
        }
    }

    /** Reads {@code n} bytes, or with {@code n} 0 until the end of the stream. */
    private static byte[] readFully(InputStream in, int n) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        byte[] buf = new byte[4096];
        while (n == 0 || b.size() < n) {
            int k = in.read(buf, 0, n == 0 ? buf.length : Math.min(buf.length, n - b.size()));
            if (k < 0) {
                break;
            }
            b.write(buf, 0, k);
        }
        return b.toByteArray();
    }

    /** Two engines handing their records to each other until each has the other's message. */
    private static byte[][] engines(SSLContext clientContext, SSLContext serverContext) throws Exception {
        SSLEngine c = clientContext.createSSLEngine("127.0.0.1", 443);
        c.setUseClientMode(true);
        SSLEngine s = serverContext.createSSLEngine();
        s.setUseClientMode(false);
        int net = Math.max(c.getSession().getPacketBufferSize(), s.getSession().getPacketBufferSize());
        int app = Math.max(c.getSession().getApplicationBufferSize(), s.getSession().getApplicationBufferSize());
        ByteBuffer cOut = ByteBuffer.wrap(request());
        ByteBuffer sOut = ByteBuffer.wrap(response());
        ByteBuffer cIn = ByteBuffer.allocate(app + 1024);
        ByteBuffer sIn = ByteBuffer.allocate(app + 1024);
        ByteBuffer toServer = ByteBuffer.allocate(net * 4);
        ByteBuffer toClient = ByteBuffer.allocate(net * 4);
        c.beginHandshake();
        s.beginHandshake();
        for (int round = 0; round < 200 && (sIn.position() < request().length || cIn.position() < response().length);
                round++) {
            step(c, cOut, toServer, toClient, cIn);
            step(s, sOut, toClient, toServer, sIn);
        }
        return new byte[][] {Arrays.copyOf(sIn.array(), sIn.position()), Arrays.copyOf(cIn.array(), cIn.position())};
    }

    /** One turn of an engine: its delegated tasks, a wrap of what it has to send, an unwrap of what it got. */
    private static void step(SSLEngine e, ByteBuffer out, ByteBuffer outNet, ByteBuffer inNet, ByteBuffer in)
            throws Exception {
        Runnable task;
        while ((task = e.getDelegatedTask()) != null) {
            task.run();
        }
        SSLEngineResult r = e.wrap(out, outNet);
        if (r.getStatus() != SSLEngineResult.Status.OK) {
            throw new IllegalStateException("wrap: " + r);
        }
        while ((task = e.getDelegatedTask()) != null) {
            task.run();
        }
        inNet.flip();
        while (inNet.hasRemaining()) {
            r = e.unwrap(inNet, in);
            while ((task = e.getDelegatedTask()) != null) {
                task.run();
            }
            if (r.getStatus() != SSLEngineResult.Status.OK || r.bytesConsumed() == 0 && r.bytesProduced() == 0) {
                break;
            }
        }
        inNet.compact();
    }
}
