package io.btfagent.bench;

import io.btfagent.demo.TlsEchoServer;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLServerSocket;
import javax.net.ssl.SSLSocket;

/**
 * The benchmark's JSSE rows: what the agent adds to the JDK's own TLS calls. One JVM per
 * configuration and repetition (interleaved): a client and a server {@code SSLEngine} in memory
 * (64 B {@code wrap} by the client, {@code unwrap} by the server) and an {@code SSLSocket} pair
 * over loopback (64 B {@code write}, then {@code read} on the other end), each call timed on its
 * own. Configurations: no agent; the agent with {@code jsse} left out of {@code libraries} (the
 * JDK's classes not woven); the agent with {@code jsse} and no sink (the woven code and the
 * counters); and with the jsonl sink writing a file.
 *
 * <p>{@code JsseCallBench <java> <classpath> <agent jar> <work dir> <table file>} runs them
 * ({@code bench.jsse.reps}, 3; {@code bench.jsse.blocks}, 5; {@code bench.jsse.iterations} per
 * block, 20000) and appends Markdown rows to the table file. {@code JsseCallBench child <blocks>
 * <iterations> <wait ms>} is one run: it warms up, waits (the agent meanwhile gets ready and
 * weaves), warms up again and prints {@code block <wrap ns> <unwrap ns> <write ns> <read ns>}.
 */
public final class JsseCallBench {
    private static final int SIZE = 64;
    private static final String[] CALLS = {"`SSLEngine.wrap`", "`SSLEngine.unwrap`", "`SSLSocket` write",
        "`SSLSocket` read"};

    private JsseCallBench() {
    }

    public static void main(String[] args) throws Exception {
        if (args.length > 0 && args[0].equals("child")) {
            child(Integer.parseInt(args[1]), Integer.parseInt(args[2]), Long.parseLong(args[3]));
            return;
        }
        if (args.length != 5) {
            System.err.println("usage: JsseCallBench <java> <classpath> <agent jar> <work dir> <table file>");
            System.exit(2);
        }
        compare(args[0], args[1], Path.of(args[2]), Path.of(args[3]), Path.of(args[4]));
    }

    // ---- one run ----

    static void child(int blocks, int iterations, long waitMs) throws Exception {
        SSLContext server = TlsEchoServer.contextForTests();
        SSLContext client = io.btfagent.demo.TrustAll.jsseContext();
        SSLEngine ce = client.createSSLEngine("127.0.0.1", 1);
        ce.setUseClientMode(true);
        SSLEngine se = server.createSSLEngine();
        se.setUseClientMode(false);
        handshake(ce, se);
        try (SSLServerSocket listening = (SSLServerSocket) server.getServerSocketFactory()
                .createServerSocket(0, 1, InetAddress.getLoopbackAddress());
                SSLSocket c = (SSLSocket) client.getSocketFactory().createSocket(InetAddress.getLoopbackAddress(),
                        listening.getLocalPort());
                SSLSocket s = (SSLSocket) listening.accept()) {
            Thread other = new Thread(() -> {
                try {
                    s.startHandshake();
                } catch (IOException e) {
                    throw new java.io.UncheckedIOException(e);
                }
            });
            other.start();
            c.startHandshake();
            other.join();
            Calls calls = new Calls(ce, se, c.getOutputStream(), s.getInputStream());
            long[] ns = new long[4];
            for (int i = 0; i < 3; i++) {
                calls.block(iterations, ns);
            }
            Thread.sleep(waitMs);
            calls.block(iterations, ns); // again after the agent wove the classes (deoptimized them)
            calls.block(iterations, ns);
            StringBuilder out = new StringBuilder();
            for (int b = 0; b < blocks; b++) {
                calls.block(iterations, ns);
                out.append("block");
                for (long v : ns) {
                    out.append(' ').append((double) v / iterations);
                }
                out.append('\n');
            }
            System.out.print(out);
            System.out.flush();
        }
    }

    /** The four calls, with buffers made once. */
    private static final class Calls {
        final SSLEngine client;
        final SSLEngine server;
        final OutputStream out;
        final InputStream in;
        final ByteBuffer app = ByteBuffer.allocate(SIZE);
        final ByteBuffer net;
        final ByteBuffer got;
        final byte[] data = new byte[SIZE];
        final byte[] received = new byte[SIZE];

        Calls(SSLEngine client, SSLEngine server, OutputStream out, InputStream in) {
            this.client = client;
            this.server = server;
            this.out = out;
            this.in = in;
            net = ByteBuffer.allocate(client.getSession().getPacketBufferSize());
            got = ByteBuffer.allocate(server.getSession().getApplicationBufferSize());
            Arrays.fill(data, (byte) 'a');
        }

        void block(int iterations, long[] ns) throws IOException {
            Arrays.fill(ns, 0);
            for (int i = 0; i < iterations; i++) {
                app.clear();
                app.put(data).flip();
                net.clear();
                long t0 = System.nanoTime();
                client.wrap(app, net);
                long t1 = System.nanoTime();
                net.flip();
                got.clear();
                long t2 = System.nanoTime();
                server.unwrap(net, got);
                long t3 = System.nanoTime();
                if (got.position() != SIZE) {
                    throw new IllegalStateException("unwrap produced " + got.position() + " bytes");
                }
                out.write(data);
                long t4 = System.nanoTime();
                int n = 0;
                while (n < SIZE) {
                    n += in.read(received, n, SIZE - n);
                }
                long t5 = System.nanoTime();
                ns[0] += t1 - t0;
                ns[1] += t3 - t2;
                ns[2] += t4 - t3;
                ns[3] += t5 - t4;
            }
        }
    }

    private static void handshake(SSLEngine c, SSLEngine s) throws Exception {
        ByteBuffer cToS = ByteBuffer.allocate(1 << 17);
        ByteBuffer sToC = ByteBuffer.allocate(1 << 17);
        ByteBuffer empty = ByteBuffer.allocate(0);
        ByteBuffer sink = ByteBuffer.allocate(1 << 17);
        for (int i = 0; i < 100; i++) {
            c.wrap(empty, cToS);
            tasks(c);
            cToS.flip();
            s.unwrap(cToS, sink);
            cToS.compact();
            tasks(s);
            s.wrap(empty, sToC);
            tasks(s);
            sToC.flip();
            c.unwrap(sToC, sink);
            sToC.compact();
            tasks(c);
            if (cToS.position() == 0 && sToC.position() == 0
                    && c.getHandshakeStatus() == javax.net.ssl.SSLEngineResult.HandshakeStatus.NOT_HANDSHAKING
                    && s.getHandshakeStatus() == javax.net.ssl.SSLEngineResult.HandshakeStatus.NOT_HANDSHAKING) {
                return;
            }
        }
        throw new IllegalStateException("the engines did not finish their handshake");
    }

    private static void tasks(SSLEngine e) {
        Runnable t;
        while ((t = e.getDelegatedTask()) != null) {
            t.run();
        }
    }

    // ---- the comparison ----

    static void compare(String java, String classpath, Path agentJar, Path work, Path table) throws Exception {
        int reps = Integer.getInteger("bench.jsse.reps", 3);
        int blocks = Integer.getInteger("bench.jsse.blocks", 5);
        int iterations = Integer.getInteger("bench.jsse.iterations", 20000);
        Path jsonl = work.resolve("jsse-events.jsonl");
        Map<String, String> configs = new LinkedHashMap<>();
        configs.put("no agent", null);
        configs.put("agent, `jsse` left out", "libraries=openssl,gnutls,boringssl,sinks=");
        configs.put("agent, `jsse`, no sink", "sinks=");
        configs.put("agent, `jsse`, jsonl sink", "sinks=jsonl,sink.jsonl.path=" + jsonl);
        Map<String, List<double[]>> results = new LinkedHashMap<>();
        configs.keySet().forEach(k -> results.put(k, new ArrayList<>()));
        for (int r = 0; r < reps; r++) {
            for (Map.Entry<String, String> c : configs.entrySet()) {
                results.get(c.getKey()).add(run(java, classpath, agentJar, c.getValue(), work, blocks, iterations));
                Files.deleteIfExists(jsonl);
                System.err.printf(Locale.ROOT, "jsse: rep %d of %d: %s done%n", r + 1, reps, c.getKey());
            }
        }
        StringBuilder md = new StringBuilder(String.format(Locale.ROOT, "%n| JSSE, %d B per call (µs per call, median of "
                + "%d runs) | %s | %s | %s | %s |%n|---|---|---|---|---|%n", SIZE, reps, CALLS[0], CALLS[1], CALLS[2],
                CALLS[3]));
        double[] none = medianOf(results.get("no agent"));
        for (Map.Entry<String, List<double[]>> e : results.entrySet()) {
            double[] m = medianOf(e.getValue());
            md.append("| ").append(e.getKey());
            for (int i = 0; i < 4; i++) {
                md.append(String.format(Locale.ROOT, " | %.2f", m[i] / 1000));
                if (e.getValue() != results.get("no agent")) {
                    md.append(String.format(Locale.ROOT, " (%+.2f)", (m[i] - none[i]) / 1000));
                }
            }
            md.append(" |\n");
        }
        System.out.print(md);
        Files.writeString(table, md, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
    }

    /** One JVM: the median over its blocks of each call's ns. */
    private static double[] run(String java, String classpath, Path agentJar, String agentArgs, Path work, int blocks,
            int iterations) throws Exception {
        List<String> cmd = new ArrayList<>(List.of(java));
        if (agentArgs != null) {
            cmd.add("-javaagent:" + agentJar + "=" + agentArgs);
        }
        cmd.addAll(List.of("-cp", classpath, JsseCallBench.class.getName(), "child", String.valueOf(blocks),
                String.valueOf(iterations), agentArgs == null ? "0" : "8000"));
        Path out = work.resolve("jsse.out");
        Path err = work.resolve("jsse.err");
        Process p = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        try {
            if (!p.waitFor(600, TimeUnit.SECONDS) || p.exitValue() != 0) {
                throw new IOException("the JSSE bench run failed: " + cmd + "\n" + Files.readString(err));
            }
        } finally {
            p.destroyForcibly();
        }
        List<double[]> rows = new ArrayList<>();
        for (String line : Files.readAllLines(out)) {
            if (line.startsWith("block ")) {
                String[] f = line.split(" ");
                rows.add(new double[] {Double.parseDouble(f[1]), Double.parseDouble(f[2]), Double.parseDouble(f[3]),
                    Double.parseDouble(f[4])});
            }
        }
        if (rows.size() != blocks) {
            throw new IOException("the JSSE bench run printed " + rows.size() + " blocks: " + Files.readString(out));
        }
        return medianOf(rows);
    }

    private static double[] medianOf(List<double[]> rows) {
        double[] m = new double[4];
        for (int i = 0; i < 4; i++) {
            double[] col = new double[rows.size()];
            for (int k = 0; k < rows.size(); k++) {
                col[k] = rows.get(k)[i];
            }
            m[i] = RealStackLoad.median(col);
        }
        return m;
    }
}
