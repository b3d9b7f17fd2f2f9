package io.btfagent.demo;

import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.LongByReference;
import java.io.ByteArrayOutputStream;

/**
 * An HTTPS client that drives libssl directly through JNA with a <em>socket BIO</em>: it opens
 * the TCP socket itself, hands its fd to {@code SSL_set_fd}, and lets OpenSSL do the socket
 * I/O, the way C programs use OpenSSL (and unlike the JVM stacks, which use memory BIOs).
 *
 * <p>Usage: {@code SocketBioClient <host> <port> <path> <libssl.so path> [ex]}; with {@code ex}
 * it uses {@code SSL_write_ex}/{@code SSL_read_ex}. It prints the socket's fd, what
 * {@code /proc/self/fd/<fd>} links to, its local and remote address, and the response's size
 * and SHA-256. {@code -Ddemo.await-go=traffic} makes it wait for a line on stdin after the
 * handshake, before the request. {@code -Ddemo.load-delay-ms=N} makes it load libssl N ms after
 * start (then, with {@code -Ddemo.await-go} containing {@code load}, after a line on stdin) and
 * prints how long the load took ({@code load-ms}); {@code -Ddemo.dlopen-first=true}
 * makes it dlopen libssl through libc first (native code's way, which JNA's and the JDK's
 * loading methods never see), print {@code dlopened}, and wait for a line on stdin.
 */
public final class SocketBioClient {


    /** The libssl calls of a minimal client. */
    public interface Ssl extends Library {
        Pointer TLS_client_method();

        Pointer SSL_CTX_new(Pointer method);

        Pointer SSL_new(Pointer ctx);

        int SSL_set_fd(Pointer ssl, int fd);

        int SSL_connect(Pointer ssl);

        int SSL_write(Pointer ssl, byte[] buf, int num);

        int SSL_read(Pointer ssl, byte[] buf, int num);

        int SSL_write_ex(Pointer ssl, byte[] buf, long num, LongByReference written);

        int SSL_read_ex(Pointer ssl, byte[] buf, long num, LongByReference read);

        int SSL_shutdown(Pointer ssl);

        void SSL_free(Pointer ssl);

        void SSL_CTX_free(Pointer ctx);
    }

    private SocketBioClient() {
    }

    public static void main(String[] args) throws Exception {
        String host = args[0];
        int port = Integer.parseInt(args[1]);
        String path = args[2];
        // -Ddemo.load-delay-ms: load libssl that long after start (a library loaded late)
        long delay = Long.getLong("demo.load-delay-ms", 0);
        if (delay > 0) {
            Thread.sleep(delay);
        }
        java.io.BufferedReader stdin = new java.io.BufferedReader(new java.io.InputStreamReader(System.in));
        if (System.getProperty("demo.await-go", "").contains("load")) {
            stdin.readLine();
        }
        if (Boolean.getBoolean("demo.dlopen-first")) {
            // dlopen from native code, the way a C library would, not through JNA's loading
            com.sun.jna.Function dlopen = com.sun.jna.NativeLibrary.getProcess().getFunction("dlopen");
            ClientSocket.check(dlopen.invokePointer(new Object[] {args[3], 2 /* RTLD_NOW */}) != null, "dlopen");
            System.out.println("dlopened " + args[3]);
            System.out.flush();
            stdin.readLine();
        }
        long loadStart = System.nanoTime();
        Ssl ssl = Native.load(args[3], Ssl.class);
        if (delay > 0) {
            System.out.println("load-ms " + (System.nanoTime() - loadStart) / 1_000_000);
        }
        boolean ex = args.length > 4 && args[4].equals("ex");
        ClientSocket socket = new ClientSocket(host, port);
        int fd = socket.fd;

        Pointer ctx = ssl.SSL_CTX_new(ssl.TLS_client_method());
        Pointer s = ssl.SSL_new(ctx);
        ClientSocket.check(ssl.SSL_set_fd(s, fd) == 1, "SSL_set_fd");
        ClientSocket.check(ssl.SSL_connect(s) == 1, "SSL_connect");
        ClientSocket.awaitTrafficGo();

        byte[] request = WildflyHttpsClient.request(host, port, path);
        if (ex) {
            LongByReference n = new LongByReference();
            ClientSocket.check(ssl.SSL_write_ex(s, request, request.length, n) == 1 && n.getValue() == request.length,
                    "SSL_write_ex");
        } else {
            ClientSocket.check(ssl.SSL_write(s, request, request.length) == request.length, "SSL_write");
        }
        ByteArrayOutputStream response = new ByteArrayOutputStream();
        byte[] buf = new byte[65536];
        while (true) {
            int n;
            if (ex) {
                LongByReference got = new LongByReference();
                n = ssl.SSL_read_ex(s, buf, buf.length, got) == 1 ? (int) got.getValue() : 0;
            } else {
                n = ssl.SSL_read(s, buf, buf.length);
            }
            if (n <= 0) {
                break;
            }
            response.write(buf, 0, n);
        }
        socket.report(response.toByteArray());
        ssl.SSL_shutdown(s);
        ssl.SSL_free(s);
        ssl.SSL_CTX_free(ctx);
        socket.close();
    }


}
