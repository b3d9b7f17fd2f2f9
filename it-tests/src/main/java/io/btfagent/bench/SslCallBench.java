package io.btfagent.bench;

import com.sun.jna.Memory;
import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Pointer;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;

/**
 * The workload of the benchmark ({@link BenchMain} starts it once per configuration and
 * repetition): one JVM, one OpenSSL client and one server connected by an in-process
 * <em>BIO pair</em>, so that every measured call is TLS work plus the probes and nothing of a
 * network stack or a peer process. Per iteration the client {@code SSL_write}s one payload and
 * the server {@code SSL_read}s it; each call is timed on its own with {@code System.nanoTime}.
 * libssl and libcrypto are bound with JNA direct mapping and the buffers are native memory,
 * so a call costs the Java side about as much as a JNI call and copies nothing.
 *
 * <p>Usage: {@code SslCallBench <libssl.so> <libcrypto.so> <cert.pem> <key.pem> <blocks>
 * <size>:<iterations>...}. Protocol on stdio: prints {@code ready} after the handshake and
 * an unprobed warm-up (JIT), waits for one line on stdin (the caller attaches probes or waits
 * for the agent meanwhile), warms up briefly again, then prints for every block and size
 * {@code block <size> <ns per SSL_write> <ns per SSL_read>} (sizes interleaved within a block),
 * then {@code calls <n>}: the SSL_write calls (= SSL_read calls) made after the go line, {@code
 * allocated <bytes>}: what every thread of the JVM allocated meanwhile, {@code rss-kib <n>}:
 * its resident memory at the end, and {@code rss-peak-kib <n>}: the most it was resident. With
 * {@code -Dbench.hold=true} it then prints {@code held} and waits for another line before it
 * ends, so that its memory can be read meanwhile.
 */
public final class SslCallBench {
    private static final int SSL_FILETYPE_PEM = 1;
    private static final long BIO_PAIR_BUFFER = 1 << 20;

    /** libssl, bound by direct mapping. */
    static final class Ssl {
        static native Pointer TLS_client_method();

        static native Pointer TLS_server_method();

        static native Pointer SSL_CTX_new(Pointer method);

        static native int SSL_CTX_use_certificate_file(Pointer ctx, String file, int type);

        static native int SSL_CTX_use_PrivateKey_file(Pointer ctx, String file, int type);

        static native int SSL_CTX_set_num_tickets(Pointer ctx, long n);

        static native Pointer SSL_new(Pointer ctx);

        static native void SSL_set_bio(Pointer ssl, Pointer rbio, Pointer wbio);

        static native void SSL_set_connect_state(Pointer ssl);

        static native void SSL_set_accept_state(Pointer ssl);

        static native int SSL_do_handshake(Pointer ssl);

        static native int SSL_write(Pointer ssl, Pointer buf, int num);

        static native int SSL_read(Pointer ssl, Pointer buf, int num);
    }

    /** libcrypto, bound by direct mapping. */
    static final class Crypto {
        static native int BIO_new_bio_pair(Pointer bio1, long writebuf1, Pointer bio2, long writebuf2);
    }

    private final Pointer client;
    private final Pointer server;
    private final Memory out;
    private final Memory in;
    private long calls;

    private SslCallBench(Pointer client, Pointer server, int maxSize) {
        this.client = client;
        this.server = server;
        out = new Memory(maxSize);
        in = new Memory(maxSize);
        for (int i = 0; i < maxSize; i++) {
            out.setByte(i, (byte) ('a' + i % 26));
        }
    }

    public static void main(String[] args) throws Exception {
        Native.register(Ssl.class, NativeLibrary.getInstance(args[0]));
        Native.register(Crypto.class, NativeLibrary.getInstance(args[1]));
        String cert = args[2];
        String key = args[3];
        int blocks = Integer.parseInt(args[4]);
        int n = args.length - 5;
        int[] sizes = new int[n];
        int[] iterations = new int[n];
        int maxSize = 1;
        for (int i = 0; i < n; i++) {
            String[] p = args[5 + i].split(":");
            sizes[i] = Integer.parseInt(p[0]);
            iterations[i] = Integer.parseInt(p[1]);
            maxSize = Math.max(maxSize, sizes[i]);
        }

        Pointer cctx = check(Ssl.SSL_CTX_new(Ssl.TLS_client_method()), "SSL_CTX_new(client)");
        Pointer sctx = check(Ssl.SSL_CTX_new(Ssl.TLS_server_method()), "SSL_CTX_new(server)");
        check(Ssl.SSL_CTX_use_certificate_file(sctx, cert, SSL_FILETYPE_PEM) == 1, "SSL_CTX_use_certificate_file");
        check(Ssl.SSL_CTX_use_PrivateKey_file(sctx, key, SSL_FILETYPE_PEM) == 1, "SSL_CTX_use_PrivateKey_file");
        // no session tickets: the client never reads, nothing should wait in its direction
        Ssl.SSL_CTX_set_num_tickets(sctx, 0);
        Pointer c = check(Ssl.SSL_new(cctx), "SSL_new(client)");
        Pointer s = check(Ssl.SSL_new(sctx), "SSL_new(server)");
        Memory bios = new Memory(16);
        check(Crypto.BIO_new_bio_pair(bios, BIO_PAIR_BUFFER, bios.share(8), BIO_PAIR_BUFFER) == 1, "BIO_new_bio_pair");
        Pointer cb = bios.getPointer(0);
        Pointer sb = bios.getPointer(8);
        Ssl.SSL_set_bio(c, cb, cb); // one reference, used for both directions
        Ssl.SSL_set_bio(s, sb, sb);
        Ssl.SSL_set_connect_state(c);
        Ssl.SSL_set_accept_state(s);
        boolean cDone = false;
        boolean sDone = false;
        for (int i = 0; i < 100 && !(cDone && sDone); i++) {
            cDone = cDone || Ssl.SSL_do_handshake(c) == 1;
            sDone = sDone || Ssl.SSL_do_handshake(s) == 1;
        }
        check(cDone && sDone, "handshake over the BIO pair");

        SslCallBench b = new SslCallBench(c, s, maxSize);
        long[] ns = new long[2];
        // unprobed warm-up: the loop and the JNA stubs compiled before anything is measured
        for (int round = 0; round < 3; round++) {
            for (int i = 0; i < n; i++) {
                b.block(sizes[i], iterations[i], ns);
            }
        }
        System.out.println("ready");
        System.out.flush();
        BufferedReader stdin = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        stdin.readLine();

        b.calls = 0;
        long allocated0 = allocatedBytes();
        for (int i = 0; i < n; i++) {
            b.block(sizes[i], Math.max(1, iterations[i] / 4), ns);
        }
        long warmupCalls = b.calls;
        // the agent's allocation in steady state: from after the probed warm-up
        java.util.Map<Long, Long> agent0 = agentAllocatedBytes();
        StringBuilder report = new StringBuilder();
        for (int k = 0; k < blocks; k++) {
            for (int i = 0; i < n; i++) {
                b.block(sizes[i], iterations[i], ns);
                report.append("block ").append(sizes[i]).append(' ')
                        .append((double) ns[0] / iterations[i]).append(' ')
                        .append((double) ns[1] / iterations[i]).append('\n');
            }
        }
        report.append("calls ").append(b.calls).append('\n');
        // every thread's allocation during the measured calls (the agent's reader and sinks included)
        report.append("allocated ").append(allocatedBytes() - allocated0).append('\n');
        // the agent's own threads (btf-agent-*: the ring reader, the sinks) alone
        long agent = 0;
        for (java.util.Map.Entry<Long, Long> e : agentAllocatedBytes().entrySet()) {
            agent += e.getValue() - agent0.getOrDefault(e.getKey(), 0L);
        }
        report.append("agent-allocated ").append(agent).append(' ').append(warmupCalls).append('\n');
        report.append("rss-kib ").append(rssKib()).append('\n');
        report.append("rss-peak-kib ").append(statusKib("VmHWM:")).append('\n');
        System.out.print(report);
        System.out.flush();
        if (Boolean.getBoolean("bench.hold")) {
            // the caller reads this process's memory maps (it-tests/memory-breakdown.sh), then lets it end
            System.out.println("held");
            System.out.flush();
            stdin.readLine();
        }
    }

    /** {@code iterations} × (client SSL_write of {@code size} bytes, server SSL_read of them). */
    private void block(int size, int iterations, long[] ns) {
        long write = 0;
        long read = 0;
        for (int i = 0; i < iterations; i++) {
            long t0 = System.nanoTime();
            int w = Ssl.SSL_write(client, out, size);
            long t1 = System.nanoTime();
            int r = Ssl.SSL_read(server, in, size);
            long t2 = System.nanoTime();
            if (w != size || r != size) {
                throw new IllegalStateException("SSL_write " + w + ", SSL_read " + r + " of " + size);
            }
            write += t1 - t0;
            read += t2 - t1;
        }
        calls += iterations;
        ns[0] = write;
        ns[1] = read;
    }

    /** Bytes allocated so far by every live thread of this JVM. */
    static long allocatedBytes() {
        com.sun.management.ThreadMXBean t =
                (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        long sum = 0;
        for (long v : t.getThreadAllocatedBytes(t.getAllThreadIds())) {
            sum += Math.max(0, v);
        }
        return sum;
    }

    /** Bytes allocated so far by each live thread whose name starts with {@code btf-agent}, by thread id. */
    static java.util.Map<Long, Long> agentAllocatedBytes() {
        com.sun.management.ThreadMXBean t =
                (com.sun.management.ThreadMXBean) java.lang.management.ManagementFactory.getThreadMXBean();
        java.util.Map<Long, Long> out = new java.util.HashMap<>();
        for (java.lang.management.ThreadInfo i : t.getThreadInfo(t.getAllThreadIds())) {
            if (i != null && i.getThreadName().startsWith("btf-agent")) {
                long v = t.getThreadAllocatedBytes(i.getThreadId());
                if (v >= 0) {
                    out.put(i.getThreadId(), v);
                }
            }
        }
        return out;
    }

    /** Resident memory of this process (VmRSS), KiB. */
    static long rssKib() {
        return statusKib("VmRSS:");
    }

    /** The field {@code name} of /proc/self/status (VmRSS:, VmHWM: the peak of VmRSS), KiB; -1 if unknown. */
    static long statusKib(String name) {
        try {
            for (String l : java.nio.file.Files.readAllLines(java.nio.file.Path.of("/proc/self/status"))) {
                if (l.startsWith(name)) {
                    return Long.parseLong(l.replaceAll("[^0-9]", ""));
                }
            }
        } catch (java.io.IOException e) {
            return -1;
        }
        return -1;
    }

    private static Pointer check(Pointer p, String what) {
        check(p != null, what);
        return p;
    }

    private static void check(boolean ok, String what) {
        if (!ok) {
            throw new IllegalStateException(what + " failed");
        }
    }
}
