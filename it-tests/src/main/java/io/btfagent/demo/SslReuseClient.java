package io.btfagent.demo;

import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Pointer;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;

/**
 * Makes OpenSSL hand out the same {@code SSL*} to two connections: in rounds, a client and a
 * server {@code SSL} joined by an in-process BIO pair handshake, the client writes
 * {@code round <i>} and the server reads it, then both are freed with {@code SSL_free}, until
 * the allocator returns a client pointer of an earlier round. libssl is bound through JNA (the
 * application's), so no JVM TLS stack reports anything about these objects.
 *
 * <p>Usage: {@code SslReuseClient <libssl.so> <libcrypto.so> <cert.pem> <key.pem>}; waits for a
 * line on stdin before the first round when {@code -Ddemo.await-go=traffic}. Prints
 * {@code round <i> client <0xptr> server <0xptr>} per round and {@code reused <0xptr> <i> <j>}
 * for the two rounds whose client pointers are equal; exit code 0, or 1 if no pointer was
 * reused within 64 rounds.
 */
public final class SslReuseClient {
    private static final int SSL_FILETYPE_PEM = 1;

    static final class Ssl {
        static native Pointer TLS_client_method();

        static native Pointer TLS_server_method();

        static native Pointer SSL_CTX_new(Pointer method);

        static native int SSL_CTX_use_certificate_file(Pointer ctx, String file, int type);

        static native int SSL_CTX_use_PrivateKey_file(Pointer ctx, String file, int type);

        static native int SSL_CTX_set_num_tickets(Pointer ctx, long n);

        static native Pointer SSL_new(Pointer ctx);

        static native void SSL_free(Pointer ssl);

        static native void SSL_set_bio(Pointer ssl, Pointer rbio, Pointer wbio);

        static native void SSL_set_connect_state(Pointer ssl);

        static native void SSL_set_accept_state(Pointer ssl);

        static native int SSL_do_handshake(Pointer ssl);

        static native int SSL_write(Pointer ssl, Pointer buf, int num);

        static native int SSL_read(Pointer ssl, Pointer buf, int num);
    }

    static final class Crypto {
        static native int BIO_new_bio_pair(Pointer bio1, long writebuf1, Pointer bio2, long writebuf2);
    }

    private SslReuseClient() {
    }

    public static void main(String[] args) throws Exception {
        Native.register(Ssl.class, NativeLibrary.getInstance(args[0]));
        Native.register(Crypto.class, NativeLibrary.getInstance(args[1]));
        Pointer cctx = Ssl.SSL_CTX_new(Ssl.TLS_client_method());
        Pointer sctx = Ssl.SSL_CTX_new(Ssl.TLS_server_method());
        if (Ssl.SSL_CTX_use_certificate_file(sctx, args[2], SSL_FILETYPE_PEM) != 1
                || Ssl.SSL_CTX_use_PrivateKey_file(sctx, args[3], SSL_FILETYPE_PEM) != 1) {
            throw new IllegalStateException("cannot load the server's certificate or key");
        }
        Ssl.SSL_CTX_set_num_tickets(sctx, 0);
        if (System.getProperty("demo.await-go", "").contains("traffic")) {
            new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)).readLine();
        }
        java.util.Map<Long, Integer> seen = new java.util.HashMap<>();
        Memory in = new Memory(64);
        for (int round = 0; round < 64; round++) {
            Pointer c = Ssl.SSL_new(cctx);
            Pointer s = Ssl.SSL_new(sctx);
            Memory bios = new Memory(16);
            Crypto.BIO_new_bio_pair(bios, 1 << 16, bios.share(8), 1 << 16);
            Ssl.SSL_set_bio(c, bios.getPointer(0), bios.getPointer(0));
            Ssl.SSL_set_bio(s, bios.getPointer(8), bios.getPointer(8));
            Ssl.SSL_set_connect_state(c);
            Ssl.SSL_set_accept_state(s);
            boolean cDone = false;
            boolean sDone = false;
            for (int i = 0; i < 100 && !(cDone && sDone); i++) {
                cDone = cDone || Ssl.SSL_do_handshake(c) == 1;
                sDone = sDone || Ssl.SSL_do_handshake(s) == 1;
            }
            if (!cDone || !sDone) {
                throw new IllegalStateException("handshake over the BIO pair failed in round " + round);
            }
            byte[] msg = ("round " + round).getBytes(StandardCharsets.US_ASCII);
            Memory out = new Memory(msg.length);
            out.write(0, msg, 0, msg.length);
            if (Ssl.SSL_write(c, out, msg.length) != msg.length || Ssl.SSL_read(s, in, 64) != msg.length) {
                throw new IllegalStateException("round " + round + " did not arrive");
            }
            long client = Pointer.nativeValue(c);
            System.out.println("round " + round + " client 0x" + Long.toHexString(client) + " server 0x"
                    + Long.toHexString(Pointer.nativeValue(s)));
            Ssl.SSL_free(c); // frees the BIO pair too
            Ssl.SSL_free(s);
            Integer earlier = seen.putIfAbsent(client, round);
            if (earlier != null) {
                System.out.println("reused 0x" + Long.toHexString(client) + " " + earlier + " " + round);
                System.out.flush();
                System.exit(0);
            }
        }
        System.err.println("no SSL* was reused in 64 rounds");
        System.exit(1);
    }
}
