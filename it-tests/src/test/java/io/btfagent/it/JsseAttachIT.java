package io.btfagent.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.btfagent.it.CapturedEvents.Event;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * An attach to a JVM whose JSSE connections (an SSLSocket pair and an SSLEngine pair, made and
 * used before the attach, so the JDK's TLS classes were loaded without the agent) are open: the
 * attach retransforms those classes, and the next exchange over the same connections is
 * captured, exactly, with identity; a detach stops it and a second attach captures once again,
 * not twice.
 */
@Privileged
class JsseAttachIT {
    private static final String APP = "io.btfagent.demo.JsseOpenConnection";

    @TempDir
    Path tmp;

    @Test
    void openConnectionsAreCapturedAfterAnAttachOnceEvenAfterADetachAndASecondAttach() throws Exception {
        Path first = tmp.resolve("first.jsonl");
        Path second = tmp.resolve("second.jsonl");
        try (ChildJvm.Running app = new ChildJvm().start(APP, List.of())) {
            String pid = String.valueOf(app.pid());
            app.awaitPrinted("exchanged-0", 120);
            String local = app.awaitPrinted("socket-local", 10);
            String remote = app.awaitPrinted("socket-remote", 10);

            RunningJvm.Command attach = RunningJvm.command(ChildJvm.AGENT_JAR, "attach", pid,
                    "sinks=jsonl,sink.jsonl.path=" + first);
            assertEquals(0, attach.exitCode(), attach.stdout() + attach.stderr());
            app.send();
            app.awaitPrinted("exchanged-1", 60);
            List<Event> events = awaitEvents(first, 8);
            checkExchange(events, 1, local, remote);

            RunningJvm.Command detach = RunningJvm.command(ChildJvm.AGENT_JAR, "detach", pid);
            assertEquals(0, detach.exitCode(), detach.stdout() + detach.stderr());
            assertTrue(detach.stdout().contains("\"jsse\":{\"calls\":8,"), detach.stdout());
            assertEquals(java.util.Set.of(), AttachIT.agentObjects(app.pid()), "no BPF object left, conn_seq unmapped");
            app.send();
            app.awaitPrinted("exchanged-2", 60);
            Thread.sleep(500);
            assertEquals(8, CapturedEvents.read(first).size(), "nothing captured after the detach");

            attach = RunningJvm.command(ChildJvm.AGENT_JAR, "attach", pid, "sinks=jsonl,sink.jsonl.path=" + second);
            assertEquals(0, attach.exitCode(), attach.stdout() + attach.stderr());
            app.send();
            app.awaitPrinted("exchanged-3", 60);
            checkExchange(awaitEvents(second, 8), 3, local, remote);
            Thread.sleep(500);
            assertEquals(8, CapturedEvents.read(second).size(), "each call once after the second attach");
            ChildJvm.Result r = app.finish(60);
            assertEquals(0, r.exitCode(), r.stderr());
        }
    }

    /** The n-th exchange: ping and pong over the socket pair and over the engine pair, each seen from both ends. */
    private static void checkExchange(List<Event> events, int n, String local, String remote) {
        byte[] ping = ("ping " + n).getBytes(StandardCharsets.US_ASCII);
        byte[] pong = ("pong " + n).getBytes(StandardCharsets.US_ASCII);
        Set<String> seen = new HashSet<>();
        Set<Long> conns = new HashSet<>();
        for (Event e : events) {
            assertEquals("jsse", e.str("lib"));
            String role = e.str("role");
            boolean client = role.equals("client");
            String func = e.str("func");
            seen.add(func + " " + role);
            conns.add(e.num("conn"));
            assertArrayEquals(client == e.egress() ? ping : pong, e.data(), e.fields().toString());
            assertEquals("main", e.str("thread"));
            if (func.startsWith("SSLSocket.")) {
                assertEquals(client ? local : remote, e.str("local"));
                assertEquals(client ? remote : local, e.str("remote"));
            }
        }
        assertEquals(Set.of("SSLSocket.write client", "SSLSocket.read server", "SSLSocket.write server",
                "SSLSocket.read client", "SSLEngine.wrap client", "SSLEngine.unwrap server", "SSLEngine.wrap server",
                "SSLEngine.unwrap client"), seen);
        assertEquals(4, conns.size(), "four TLS objects: " + conns);
    }

    private static List<Event> awaitEvents(Path jsonl, int count) throws Exception {
        long deadline = System.nanoTime() + 30_000_000_000L;
        while (true) {
            List<Event> events = Files.exists(jsonl) ? CapturedEvents.read(jsonl) : new ArrayList<>();
            if (events.size() >= count || System.nanoTime() > deadline) {
                assertEquals(count, events.size(), "events in " + jsonl);
                return events;
            }
            Thread.sleep(50);
        }
    }
}
