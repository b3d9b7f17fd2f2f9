package io.btfagent.demo;

import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.ptr.IntByReference;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * A TCP connection opened with libc, for the clients that hand its fd to a TLS library
 * ({@link SocketBioClient}, {@link GnutlsSocketClient}), and the report they print about it,
 * which tests compare with what the agent captured.
 */
final class ClientSocket implements AutoCloseable {
    private static final int AF_INET = 2;
    private static final int SOCK_STREAM = 1;

    /** The libc calls for a TCP socket. */
    public interface LibC extends Library {
        int socket(int domain, int type, int protocol);

        int connect(int fd, byte[] addr, int len);

        int getsockname(int fd, byte[] addr, IntByReference len);

        int close(int fd);
    }

    private final LibC libc = Native.load("c", LibC.class);
    final int fd;
    private final byte[] local = new byte[16];
    private final byte[] remote;

    /** Connects to an IPv4 {@code host}:{@code port}. */
    ClientSocket(String host, int port) throws IOException {
        fd = libc.socket(AF_INET, SOCK_STREAM, 0);
        remote = sockaddr(InetAddress.getByName(host).getAddress(), port);
        check(fd >= 0 && libc.connect(fd, remote, remote.length) == 0, "connect");
        check(libc.getsockname(fd, local, new IntByReference(16)) == 0, "getsockname");
    }

    /** With -Ddemo.await-go containing "traffic": waits for one line on stdin. */
    static void awaitTrafficGo() throws IOException {
        if (System.getProperty("demo.await-go", "").contains("traffic")) {
            new BufferedReader(new InputStreamReader(System.in)).readLine();
        }
    }

    /** Prints fd, fd-link, local, remote, response-bytes and response-sha256, one per line. */
    void report(byte[] response) throws IOException {
        System.out.println("fd " + fd);
        System.out.println("fd-link " + Files.readSymbolicLink(Path.of("/proc/self/fd/" + fd)));
        System.out.println("local " + text(local));
        System.out.println("remote " + text(remote));
        System.out.println("response-bytes " + response.length);
        System.out.println("response-sha256 " + WildflyHttpsClient.sha256(response));
    }

    @Override
    public void close() {
        libc.close(fd);
    }

    /** struct sockaddr_in: family (host order), port (network order), IPv4 address, zero. */
    private static byte[] sockaddr(byte[] ipv4, int port) {
        byte[] a = new byte[16];
        a[0] = (byte) AF_INET;
        a[2] = (byte) (port >> 8);
        a[3] = (byte) port;
        System.arraycopy(ipv4, 0, a, 4, 4);
        return a;
    }

    private static String text(byte[] sockaddr) {
        int port = ((sockaddr[2] & 0xff) << 8) | (sockaddr[3] & 0xff);
        return (sockaddr[4] & 0xff) + "." + (sockaddr[5] & 0xff) + "." + (sockaddr[6] & 0xff) + "."
                + (sockaddr[7] & 0xff) + ":" + port;
    }

    static void check(boolean ok, String what) {
        if (!ok) {
            throw new IllegalStateException(what + " failed");
        }
    }
}
