package io.btfagent.demo;

import java.io.BufferedReader;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.InputStreamReader;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;

/**
 * A JVM holding JSSE connections open across an attach: one SSLSocket pair over loopback and
 * one SSLEngine pair in memory, both handshaken and used once at start (so the JDK's TLS
 * classes are loaded and their connections live before any agent). Then, for each line on
 * stdin, the client sends {@code ping <n>} and the server answers {@code pong <n>} over both;
 * it prints {@code exchanged-<n> ok} after each, {@code socket-local}/{@code socket-remote} (the
 * client socket's addresses) at start, and stops at the end of stdin.
 */
public final class JsseOpenConnection {
    private JsseOpenConnection() {
    }

    public static void main(String[] args) throws Exception {
        SSLContext server = TlsEchoServer.contextForTests();
        SSLContext client = TrustAll.jsseContext();
        try (SSLServerSocket listening = (SSLServerSocket) server.getServerSocketFactory()
                .createServerSocket(0, 1, InetAddress.getLoopbackAddress());
                SSLSocket c = (SSLSocket) client.getSocketFactory().createSocket(InetAddress.getLoopbackAddress(),
                        listening.getLocalPort());
                SSLSocket s = (SSLSocket) listening.accept()) {
            // both ends' handshakes at once (one thread would wait for itself); the data later on main
            Thread serverSide = new Thread(() -> {
                try {
                    s.startHandshake();
                } catch (java.io.IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            }, "handshake");
            serverSide.start();
            c.startHandshake();
            serverSide.join();
            DataOutputStream cOut = new DataOutputStream(c.getOutputStream());
            DataInputStream cIn = new DataInputStream(c.getInputStream());
            DataOutputStream sOut = new DataOutputStream(s.getOutputStream());
            DataInputStream sIn = new DataInputStream(s.getInputStream());
            SSLEngine ce = client.createSSLEngine("127.0.0.1", 1);
            ce.setUseClientMode(true);
            SSLEngine se = server.createSSLEngine();
            se.setUseClientMode(false);
            Pipe pipe = new Pipe(ce, se);
            System.out.println("socket-local " + c.getLocalAddress().getHostAddress() + ":" + c.getLocalPort());
            System.out.println("socket-remote " + c.getInetAddress().getHostAddress() + ":" + c.getPort());
            BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
            for (int n = 0; ; n++) {
                byte[] ping = ("ping " + n).getBytes(StandardCharsets.US_ASCII);
                byte[] pong = ("pong " + n).getBytes(StandardCharsets.US_ASCII);
                cOut.write(ping);
                cOut.flush();
                sIn.readFully(new byte[ping.length]);
                sOut.write(pong);
                sOut.flush();
                cIn.readFully(new byte[pong.length]);
                pipe.send(ce, se, ping);
                pipe.send(se, ce, pong);
                System.out.println("exchanged-" + n + " ok");
                System.out.flush();
                if (in.readLine() == null) {
                    return;
                }
            }
        }
    }

    /** Two engines talking through buffers in memory: handshake on the first send. */
    private static final class Pipe {
        private final ByteBuffer clientToServer = ByteBuffer.allocate(1 << 17);
        private final ByteBuffer serverToClient = ByteBuffer.allocate(1 << 17);
        private final SSLEngine client;

        Pipe(SSLEngine client, SSLEngine server) {
            this.client = client;
        }

        /** Sends {@code data} from one engine to the other, driving the handshake as needed. */
        void send(SSLEngine from, SSLEngine to, byte[] data) throws Exception {
            ByteBuffer app = ByteBuffer.wrap(data);
            ByteBuffer got = ByteBuffer.allocate(1 << 16);
            ByteBuffer back = ByteBuffer.allocate(1 << 16);
            ByteBuffer fromOut = from == client ? clientToServer : serverToClient;
            ByteBuffer toOut = from == client ? serverToClient : clientToServer;
            for (int i = 0; i < 200 && got.position() < data.length; i++) {
                from.wrap(app, fromOut);
                runTasks(from);
                fromOut.flip();
                to.unwrap(fromOut, got);
                fromOut.compact();
                runTasks(to);
                to.wrap(ByteBuffer.allocate(0), toOut);
                runTasks(to);
                toOut.flip();
                from.unwrap(toOut, back);
                toOut.compact();
                runTasks(from);
            }
            if (got.position() != data.length || back.position() != 0) {
                throw new IllegalStateException("the engines did not exchange " + data.length + " bytes");
            }
        }

        private static void runTasks(SSLEngine e) {
            Runnable t;
            while ((t = e.getDelegatedTask()) != null) {
                t.run();
            }
        }
    }
}
