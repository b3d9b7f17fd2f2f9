package io.btfagent.demo;

import com.sun.jna.Library;
import com.sun.jna.Native;
import com.sun.jna.Pointer;
import com.sun.jna.ptr.PointerByReference;
import java.io.ByteArrayOutputStream;

/**
 * An HTTPS client that drives GnuTLS directly through JNA on a socket it opened itself: it
 * connects a TCP socket, hands its fd to {@code gnutls_transport_set_int2}, and lets GnuTLS do
 * the socket I/O, the way C programs use GnuTLS. The server certificate is not verified (the
 * only server it talks to is the self-signed {@link TlsEchoServer} on loopback).
 *
 * <p>Usage: {@code GnutlsSocketClient <host> <port> <path> <libgnutls.so.30 path>}. It prints
 * the same lines as {@link SocketBioClient}: the socket's fd, what {@code /proc/self/fd/<fd>}
 * links to, its local and remote address, and the response's size and SHA-256.
 * {@code -Ddemo.await-go=traffic} makes it wait for a line on stdin after the handshake,
 * before the request.
 */
public final class GnutlsSocketClient {
    private static final int GNUTLS_CLIENT = 1 << 1;
    private static final int GNUTLS_CRD_CERTIFICATE = 1;
    private static final int GNUTLS_SHUT_WR = 1;
    private static final int GNUTLS_E_FATAL_ALERT_RECEIVED = -12;
    private static final int GNUTLS_E_PREMATURE_TERMINATION = -110;
    private static final int GNUTLS_A_USER_CANCELED = 90;


    /** The GnuTLS calls of a minimal client. */
    public interface Gnutls extends Library {
        int gnutls_global_init();

        int gnutls_certificate_allocate_credentials(PointerByReference cred);

        int gnutls_init(PointerByReference session, int flags);

        int gnutls_set_default_priority(Pointer session);

        int gnutls_credentials_set(Pointer session, int type, Pointer cred);

        void gnutls_transport_set_int2(Pointer session, int recvFd, int sendFd);

        int gnutls_handshake(Pointer session);

        int gnutls_error_is_fatal(int error);

        String gnutls_strerror(int error);

        int gnutls_alert_get(Pointer session);

        String gnutls_alert_get_name(int alert);

        long gnutls_record_send(Pointer session, byte[] data, long size);

        long gnutls_record_recv(Pointer session, byte[] data, long size);

        int gnutls_bye(Pointer session, int how);

        void gnutls_deinit(Pointer session);

        void gnutls_certificate_free_credentials(Pointer cred);
    }

    private GnutlsSocketClient() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length != 4) {
            System.err.println("usage: GnutlsSocketClient <host> <port> <path> <libgnutls.so.30>");
            System.exit(2);
        }
        String host = args[0];
        int port = Integer.parseInt(args[1]);
        String path = args[2];
        Gnutls tls = Native.load(args[3], Gnutls.class);
        ClientSocket socket = new ClientSocket(host, port);
        int fd = socket.fd;

        ok(tls, tls.gnutls_global_init(), "gnutls_global_init");
        PointerByReference credRef = new PointerByReference();
        ok(tls, tls.gnutls_certificate_allocate_credentials(credRef), "gnutls_certificate_allocate_credentials");
        Pointer cred = credRef.getValue();
        PointerByReference sessionRef = new PointerByReference();
        ok(tls, tls.gnutls_init(sessionRef, GNUTLS_CLIENT), "gnutls_init");
        Pointer s = sessionRef.getValue();
        ok(tls, tls.gnutls_set_default_priority(s), "gnutls_set_default_priority");
        ok(tls, tls.gnutls_credentials_set(s, GNUTLS_CRD_CERTIFICATE, cred), "gnutls_credentials_set");
        tls.gnutls_transport_set_int2(s, fd, fd);
        int hs;
        do {
            hs = tls.gnutls_handshake(s);
        } while (hs < 0 && tls.gnutls_error_is_fatal(hs) == 0);
        ok(tls, hs, "gnutls_handshake");
        ClientSocket.awaitTrafficGo();

        byte[] request = WildflyHttpsClient.request(host, port, path);
        long sent;
        do {
            sent = tls.gnutls_record_send(s, request, request.length);
        } while (sent < 0 && tls.gnutls_error_is_fatal((int) sent) == 0);
        ClientSocket.check(sent == request.length, "gnutls_record_send returned " + sent);
        ByteArrayOutputStream response = new ByteArrayOutputStream();
        byte[] buf = new byte[65536];
        while (true) {
            long n = tls.gnutls_record_recv(s, buf, buf.length);
            if (n > 0) {
                response.write(buf, 0, (int) n);
            } else if (n == 0 || n == GNUTLS_E_PREMATURE_TERMINATION) {
                break; // close_notify, or the peer closed the TCP connection after its response
            } else if (n == GNUTLS_E_FATAL_ALERT_RECEIVED && tls.gnutls_alert_get(s) == GNUTLS_A_USER_CANCELED) {
                break; // JSSE closes a TLS 1.3 connection with user_canceled before close_notify
            } else if (tls.gnutls_error_is_fatal((int) n) != 0) {
                throw new IllegalStateException("gnutls_record_recv after " + response.size() + " bytes: "
                        + tls.gnutls_strerror((int) n) + " (alert " + tls.gnutls_alert_get_name(tls.gnutls_alert_get(s))
                        + ")");
            }
        }
        socket.report(response.toByteArray());
        tls.gnutls_bye(s, GNUTLS_SHUT_WR);
        tls.gnutls_deinit(s);
        tls.gnutls_certificate_free_credentials(cred);
        socket.close();
    }


    private static void ok(Gnutls tls, int rc, String what) {
        if (rc < 0) {
            throw new IllegalStateException(what + " failed: " + rc + " " + tls.gnutls_strerror(rc));
        }
    }

}
