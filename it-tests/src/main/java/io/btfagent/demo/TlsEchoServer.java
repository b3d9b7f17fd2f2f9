package io.btfagent.demo;

import java.io.ByteArrayOutputStream;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyStore;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLServerSocket;

/**
 * Minimal HTTPS server on 127.0.0.1 built on the JDK's own TLS stack (JSSE), so it never
 * touches libssl and cannot pollute what an OpenSSL uprobe sees.
 *
 * <p>It answers every HTTP/1.1 request with {@code 200 OK} and {@code Connection: close}.
 * A path of {@code /bytes/<n>} yields {@link #pattern(int) pattern(n)}; any other path yields
 * {@link #DEFAULT_BODY}. The certificate is a throw-away self-signed RSA key made with
 * {@code keytool} when the server starts.
 *
 * <p>Run standalone with {@code java io.btfagent.demo.TlsEchoServer}: it prints
 * {@code listening <port>} and serves until killed or until stdin is closed.
 */
public final class TlsEchoServer implements AutoCloseable {

    /** Body returned for every path other than {@code /bytes/<n>}. */
    public static final String DEFAULT_BODY = "hello from btf-agent demo\n";

    private static final int MAX_HEADER_BYTES = 64 * 1024;
    private static final int MAX_BODY_BYTES = 64 * 1024 * 1024;

    private final SSLServerSocket serverSocket;
    private final Set<Socket> connections = ConcurrentHashMap.newKeySet();
    private final Thread acceptor;
    private volatile boolean closed;

    /**
     * Creates the key material and binds a free port on 127.0.0.1. Call {@link #start()} to
     * begin accepting connections.
     */
    public TlsEchoServer() throws IOException {
        SSLContext context = selfSignedContext();
        serverSocket = (SSLServerSocket) context.getServerSocketFactory()
                .createServerSocket(0, 50, InetAddress.getLoopbackAddress());
        acceptor = new Thread(this::acceptLoop, "tls-echo-acceptor");
        acceptor.setDaemon(true);
    }

    /** Starts the accept thread; returns {@code this} for chaining. */
    public TlsEchoServer start() {
        acceptor.start();
        return this;
    }

    /** The bound TCP port. */
    public int port() {
        return serverSocket.getLocalPort();
    }

    /** Stops accepting, closes open connections and waits briefly for the accept thread. */
    @Override
    public void close() throws IOException {
        closed = true;
        serverSocket.close();
        for (Socket s : connections) {
            closeQuietly(s);
        }
        try {
            acceptor.join(TimeUnit.SECONDS.toMillis(5));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Deterministic response body for {@code /bytes/<n>}: the high byte of a 32-bit LCG
     * (Numerical Recipes constants) seeded with 1. It has no short period, so a duplicated,
     * dropped or reordered chunk in a capture changes the bytes.
     */
    public static byte[] pattern(int n) {
        byte[] out = new byte[n];
        int state = 1;
        for (int i = 0; i < n; i++) {
            state = state * 1664525 + 1013904223;
            out[i] = (byte) (state >>> 24);
        }
        return out;
    }

    /** Response body the server sends for {@code path}. */
    public static byte[] bodyFor(String path) {
        if (path.startsWith("/bytes/")) {
            try {
                int n = Integer.parseInt(path.substring("/bytes/".length()));
                if (n >= 0 && n <= MAX_BODY_BYTES) {
                    return pattern(n);
                }
            } catch (NumberFormatException e) {
                // fall through to the default body
            }
        }
        return DEFAULT_BODY.getBytes(StandardCharsets.US_ASCII);
    }

    /** The session cookie the response to {@code /login} sets. */
    public static final String SESSION_COOKIE = "Set-Cookie: session=7f3a9c0e11d2; Path=/; HttpOnly";

    /**
     * Exact bytes of the full response (head plus body) the server sends for {@code path}; the
     * response to {@code /login} also carries {@link #SESSION_COOKIE}.
     */
    public static byte[] responseFor(String path) {
        byte[] body = bodyFor(path);
        byte[] head = ("HTTP/1.1 200 OK\r\nContent-Length: " + body.length
                + (path.equals("/login") ? "\r\n" + SESSION_COOKIE : "")
                + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII);
        byte[] all = new byte[head.length + body.length];
        System.arraycopy(head, 0, all, 0, head.length);
        System.arraycopy(body, 0, all, head.length, body.length);
        return all;
    }

    private void acceptLoop() {
        while (!closed) {
            Socket socket;
            try {
                socket = serverSocket.accept();
            } catch (IOException e) {
                if (!closed) {
                    System.err.println("accept failed: " + e);
                }
                return;
            }
            connections.add(socket);
            Thread worker = new Thread(() -> serve(socket), "tls-echo-conn-" + socket.getPort());
            worker.setDaemon(true);
            worker.start();
        }
    }

    private void serve(Socket socket) {
        try (socket) {
            // Stray clients that connect and go quiet must not pin a thread forever.
            socket.setSoTimeout((int) TimeUnit.SECONDS.toMillis(30));
            // buffered: one read of the TLS stream per record, not per byte (what a capture of
            // this server's own reads shows)
            InputStream in = new java.io.BufferedInputStream(socket.getInputStream(), 16384);
            String head = readHead(in);
            if (head == null) {
                return;
            }
            readBody(in, contentLength(head));
            String[] requestLine = head.substring(0, head.indexOf("\r\n")).split(" ");
            String path = requestLine.length > 1 ? requestLine[1] : "/";
            OutputStream out = socket.getOutputStream();
            out.write(responseFor(path));
            out.flush();
        } catch (IOException e) {
            if (!closed && !(e instanceof SocketException)) {
                System.err.println("connection failed: " + e);
            }
        } finally {
            connections.remove(socket);
        }
    }

    /** Reads up to and including CRLFCRLF; null if the peer closed before sending one. */
    private static String readHead(InputStream in) throws IOException {
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        int last4 = 0;
        while (last4 != 0x0D0A0D0A) {
            int b = in.read();
            if (b < 0) {
                return null;
            }
            buf.write(b);
            if (buf.size() > MAX_HEADER_BYTES) {
                throw new IOException("request head too large");
            }
            last4 = (last4 << 8) | b;
        }
        return buf.toString(StandardCharsets.ISO_8859_1);
    }

    private static long contentLength(String head) throws IOException {
        for (String line : head.split("\r\n")) {
            int colon = line.indexOf(':');
            if (colon > 0 && line.substring(0, colon).trim().toLowerCase(Locale.ROOT).equals("content-length")) {
                try {
                    return Long.parseLong(line.substring(colon + 1).trim());
                } catch (NumberFormatException e) {
                    throw new IOException("bad Content-Length: " + line, e);
                }
            }
        }
        return 0;
    }

    private static void readBody(InputStream in, long length) throws IOException {
        if (length > MAX_BODY_BYTES) {
            throw new IOException("request body too large");
        }
        byte[] skip = new byte[8192];
        long remaining = length;
        while (remaining > 0) {
            int n = in.read(skip, 0, (int) Math.min(skip.length, remaining));
            if (n < 0) {
                throw new IOException("request body truncated");
            }
            remaining -= n;
        }
    }

    /** A server context with a fresh self-signed certificate for 127.0.0.1, as this server's. */
    public static SSLContext contextForTests() throws IOException {
        return selfSignedContext();
    }

    private static SSLContext selfSignedContext() throws IOException {
        try {
            SSLContext context = SSLContext.getInstance("TLS");
            context.init(keyManagersForTests(), null, null);
            return context;
        } catch (IOException e) {
            throw e;
        } catch (Exception e) {
            throw new IOException("cannot build server TLS context", e);
        }
    }

    /**
     * The key managers of a fresh self-signed RSA certificate for 127.0.0.1, made with the
     * running JDK's keytool (any provider's context takes them).
     */
    public static javax.net.ssl.KeyManager[] keyManagersForTests() throws IOException {
        try {
            return keyManagersForTests(KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm()));
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IOException("cannot build server TLS context", e);
        }
    }

    /** As {@link #keyManagersForTests()}, from {@code kmf} (e.g. a provider's own). */
    public static javax.net.ssl.KeyManager[] keyManagersForTests(KeyManagerFactory kmf) throws IOException {
        char[] password = "changeit".toCharArray();
        Path dir = Files.createTempDirectory("tls-echo-");
        Path store = dir.resolve("server.p12");
        try {
            String keytool = Path.of(System.getProperty("java.home"), "bin", "keytool").toString();
            Process p = new ProcessBuilder(keytool, "-genkeypair", "-noprompt",
                    "-alias", "server", "-keyalg", "RSA", "-keysize", "2048", "-validity", "2",
                    "-dname", "CN=localhost", "-ext", "SAN=dns:localhost,ip:127.0.0.1",
                    "-storetype", "PKCS12", "-keystore", store.toString(),
                    "-storepass", new String(password), "-keypass", new String(password))
                    .redirectErrorStream(true)
                    .start();
            String output = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            if (!p.waitFor(60, TimeUnit.SECONDS) || p.exitValue() != 0) {
                throw new IOException("keytool failed: " + output);
            }
            KeyStore ks = KeyStore.getInstance("PKCS12");
            try (InputStream in = Files.newInputStream(store)) {
                ks.load(in, password);
            }
            kmf.init(ks, password);
            return kmf.getKeyManagers();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted while running keytool", e);
        } catch (IOException e) {
            throw e;
        } catch (Exception e) {
            throw new IOException("cannot build server TLS context", e);
        } finally {
            Files.deleteIfExists(store);
            Files.deleteIfExists(dir);
        }
    }

    private static void closeQuietly(Closeable c) {
        try {
            c.close();
        } catch (IOException ignored) {
            // already closing
        }
    }

    /**
     * Prints {@code listening <port>} and serves until killed or stdin reaches EOF. With
     * {@code --ignore-stdin} it serves until killed, for shells that start background jobs with
     * stdin on /dev/null.
     */
    public static void main(String[] args) throws Exception {
        try (TlsEchoServer server = new TlsEchoServer().start()) {
            System.out.println("listening " + server.port());
            System.out.flush();
            if (args.length > 0 && args[0].equals("--ignore-stdin")) {
                Thread.sleep(Long.MAX_VALUE);
            }
            // A parent that spawned us closes our stdin to stop us.
            while (System.in.read() >= 0) {
                // ignore input
            }
        }
    }
}
