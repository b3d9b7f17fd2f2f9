package io.btfagent.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.btfagent.it.CapturedEvents.Event;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code attach} and {@code detach} against a netty HTTPS server on netty-tcnative-boringssl-static
 * started without the agent. netty loaded (and deleted) its BoringSSL long before the attach, so
 * the attach finds it in the maps and hooks it through /proc/self/map_files; its classes are
 * loaded, so the identity weaving is applied by retransformation. A connection whose handshake
 * was done before the attach is captured too, without role or addresses: every stack learns
 * those at the handshake.
 */
@Privileged
class AttachNettyIT {
    static final String SERVER = "io.btfagent.netty.NettyHttpsServer";
    private static final Path JAR = ChildJvm.AGENT_JAR;

    @TempDir
    Path tmp;

    @Test
    void aNettyServerIsAttachedCapturedWithIdentityDetachedAndAttachedAgain() throws Exception {
        Path[] cert = NettyStack.selfSignedCertificate(tmp);
        Path first = tmp.resolve("first.jsonl");
        Path second = tmp.resolve("second.jsonl");
        byte[] early = ("POST /early HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 31\r\n\r\n"
                + "sent on a connection made early").getBytes(StandardCharsets.ISO_8859_1);
        List<NettyStack.CurlResult> curls = new ArrayList<>();
        NettyStack.CurlResult later;
        ChildJvm.Result r;
        int port;
        try (ChildJvm.Running server = new ChildJvm().classpath(NettyStack.nettyClasspath(NettyStack.NETTY_LIB,
                NettyStack.TCNATIVE_VERSION)).jvmArg("-Djava.io.tmpdir=" + tmp)
                .start(SERVER, List.of(cert[0].toString(), cert[1].toString()))) {
            port = Integer.parseInt(server.awaitPrinted("port", 60));
            String pid = String.valueOf(server.pid());
            assertEquals(Set.of(), AttachIT.agentObjects(server.pid()), "nothing of BPF before the attach");

            // a connection whose TLS handshake is done before the agent comes
            Process client = new ProcessBuilder("openssl", "s_client", "-connect", "127.0.0.1:" + port, "-ign_eof")
                    .redirectOutput(tmp.resolve("s_client.out").toFile())
                    .redirectError(tmp.resolve("s_client.err").toFile()).start();
            try {
                awaitFile(tmp.resolve("s_client.out"), "Verify return code", client);
                Thread.sleep(300); // the server has read the client's Finished meanwhile

                RunningJvm.Command attach = RunningJvm.command(JAR, "attach", pid, "sinks=jsonl,sink.jsonl.path=" + first);
                assertEquals(0, attach.exitCode(), attach.stdout() + attach.stderr());
                assertTrue(attach.stdout().lines().anyMatch(l -> l.startsWith("INFO hooked boringssl ")
                        && l.contains("(deleted; attached through /proc/self/map_files/")), attach.stdout());
                assertFalse(AttachIT.linkIds(server.pid()).isEmpty(), "the server holds BPF links");

                OutputStream in = client.getOutputStream();
                in.write(early);
                in.flush();
                assertTrue(client.waitFor(30, TimeUnit.SECONDS), "the server answers and closes");
            } finally {
                client.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }

            List<Process> running = List.of(
                    NettyStack.startCurlPost(port, "one body after the attach", tmp.resolve("curl0")),
                    NettyStack.startCurlPost(port, "another body, longer: " + "y".repeat(200), tmp.resolve("curl1")));
            for (int i = 0; i < running.size(); i++) {
                curls.add(NettyStack.finishCurl(running.get(i), tmp.resolve("curl" + i)));
            }
            awaitEvents(first, 6); // three connections, at least one record each way

            RunningJvm.Command detach = RunningJvm.command(JAR, "detach", pid);
            assertEquals(0, detach.exitCode(), detach.stderr());
            assertTrue(detach.stdout().startsWith("btf-agent detached from pid " + pid + ": probes of "),
                    detach.stdout());
            assertEquals(Set.of(), AttachIT.agentObjects(server.pid()), "no BPF link, program, map or perf event left");
            assertEquals(List.of(), AttachIT.agentThreads(server.pid()), "the agent's threads have ended");

            RunningJvm.Command again = RunningJvm.command(JAR, "attach", pid, "sinks=jsonl,sink.jsonl.path=" + second);
            assertEquals(0, again.exitCode(), again.stderr());
            assertTrue(again.stdout().lines().anyMatch(l -> l.startsWith("INFO hooked boringssl ")), again.stdout());
            later = NettyStack.finishCurl(NettyStack.startCurlPost(port, "after the second attach",
                    tmp.resolve("curl2")), tmp.resolve("curl2"));
            awaitEvents(second, 2);
            assertEquals(0, RunningJvm.command(JAR, "detach", pid).exitCode());
            assertEquals(Set.of(), AttachIT.agentObjects(server.pid()));
            r = server.finish(60);
        }
        assertEquals(0, r.exitCode(), "server failed:\n" + r.stderr());

        Map<Integer, byte[][]> conns = connections(r.stdout());
        List<Event> events = CapturedEvents.read(first);
        // a freed SSL* may be allocated again for the next connection: a conn is one life of one SSL*
        Map<Long, List<Event>> byConn = byConn(events);
        assertEquals(3, byConn.size(), "one conn per connection: " + describe(events) + "\nserver:\n" + r.stdout());
        for (NettyStack.CurlResult c : curls) {
            byte[][] conn = conns.get(c.localPort());
            List<Event> mine = capturedFor(byConn, conn);
            long connId = mine.get(0).num("conn");
            assertTrue(connId > 0, mine.get(0).fields().toString());
            for (Event e : mine) {
                assertEquals(connId, e.num("conn"), e.fields().toString());
                assertEquals("server", e.str("role"), e.fields().toString());
                assertEquals("127.0.0.1:" + port, e.str("local"), e.fields().toString());
                assertEquals("127.0.0.1:" + c.localPort(), e.str("remote"), "curl's own connection: " + e.fields());
                assertTrue(e.str("thread").startsWith("multiThreadIoEventLoopGroup-"), e.fields().toString());
            }
        }
        byte[][] earlyConn = conns.values().stream().filter(c -> Arrays.equals(c[0], early)).findFirst()
                .orElseThrow(() -> new AssertionError("the server did not print the early connection: " + r.stdout()));
        for (Event e : capturedFor(byConn, earlyConn)) {
            assertTrue(e.num("conn") > 0, e.fields().toString());
            assertNull(e.str("role"), "learnt at the handshake, before the attach: " + e.fields());
            assertNull(e.str("remote"), e.fields().toString());
        }
        for (Event e : events) {
            assertEquals("boringssl", e.str("lib"));
            assertEquals(r.pid(), e.num("pid"));
        }

        List<Event> afterReattach = CapturedEvents.read(second);
        byte[][] conn = conns.get(later.localPort());
        List<Event> mine = capturedFor(byConn(afterReattach), conn);
        assertEquals(afterReattach.size(), mine.size(), "only the connection made while attached again");
        for (Event e : mine) {
            assertEquals("127.0.0.1:" + later.localPort(), e.str("remote"), e.fields().toString());
        }
    }

    private static String describe(List<Event> events) {
        StringBuilder b = new StringBuilder();
        for (Event e : events) {
            String data = new String(e.data(), StandardCharsets.ISO_8859_1);
            b.append('\n').append(e.str("ssl")).append(' ').append(e.str("dir")).append(" conn=").append(e.num("conn"))
                    .append(" role=").append(e.str("role")).append(" remote=").append(e.str("remote")).append(' ')
                    .append(data.substring(0, Math.min(40, data.length())).replace("\r\n", "|"));
        }
        return b.toString();
    }

    private static Map<Long, List<Event>> byConn(List<Event> events) {
        Map<Long, List<Event>> m = new java.util.LinkedHashMap<>();
        for (Event e : events) {
            m.computeIfAbsent(e.num("conn"), k -> new ArrayList<>()).add(e);
        }
        return m;
    }

    /** The events of the one conn whose ingress is {@code conn}'s request; its egress must be the response. */
    private static List<Event> capturedFor(Map<Long, List<Event>> byConn, byte[][] conn) {
        List<Event> mine = byConn.values().stream()
                .filter(es -> Arrays.equals(CapturedEvents.stream(es, false), conn[0])).findFirst()
                .orElseThrow(() -> new AssertionError("no SSL* whose ingress is "
                        + new String(conn[0], StandardCharsets.ISO_8859_1) + "\ncaptured: " + byConn));
        assertArrayEquals(conn[1], CapturedEvents.stream(mine, true), "the response, captured as egress");
        return mine;
    }

    /** The server's "conn <remote> received|sent <base64>" lines: client port → {received, sent}. */
    private static Map<Integer, byte[][]> connections(String stdout) {
        Map<Integer, byte[][]> out = new HashMap<>();
        for (String line : stdout.lines().toList()) {
            String[] f = line.split(" ");
            if (f.length == 4 && f[0].equals("conn")) {
                int clientPort = Integer.parseInt(f[1].substring(f[1].lastIndexOf(':') + 1));
                byte[][] c = out.computeIfAbsent(clientPort, k -> new byte[2][]);
                c[f[2].equals("received") ? 0 : 1] = Base64.getDecoder().decode(f[3]);
            }
        }
        return out;
    }

    private static void awaitFile(Path file, String marker, Process p) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (!(Files.exists(file) && Files.readString(file, StandardCharsets.ISO_8859_1).contains(marker))) {
            if (!p.isAlive() || System.nanoTime() > deadline) {
                throw new AssertionError("no '" + marker + "' from openssl s_client: "
                        + (Files.exists(file) ? Files.readString(file, StandardCharsets.ISO_8859_1) : ""));
            }
            Thread.sleep(20);
        }
    }

    /** Waits up to 20 s until {@code jsonl} holds at least {@code count} events. */
    private static void awaitEvents(Path jsonl, int count) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        while (CapturedEvents.read(jsonl).size() < count && System.nanoTime() < deadline) {
            Thread.sleep(50);
        }
        Set<String> seen = new TreeSet<>();
        CapturedEvents.read(jsonl).forEach(e -> seen.add(e.str("dir") + " " + e.num("len")));
        assertTrue(CapturedEvents.read(jsonl).size() >= count, "events in " + jsonl + ": " + seen);
    }
}
