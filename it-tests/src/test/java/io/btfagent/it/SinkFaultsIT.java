package io.btfagent.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.btfagent.it.CapturedEvents.Event;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The file sinks under the faults of a running system, with a real JVM, real capture and a real
 * file system: a tmpfs filled and then freed (the events of the outage are held and written
 * whole once there is room; the files never hold a torn record, even while full), then the files
 * renamed (logrotate) and deleted under the running sinks (each followed by a new file, said
 * once). Every event is accounted for exactly, and each fault is one line when it begins and
 * one when it ends.
 */
@Privileged
class SinkFaultsIT extends AgainstEchoServer {
    private static final String CLIENT = "io.btfagent.kafka.KafkaPhasesClient";
    /** Requests per phase: 16 events, more than a page of jsonl, so a write meets the full disk. */
    private static final int REQUESTS = 8;
    private static final int EVENTS = 2 * REQUESTS;

    private static void sh(String command) throws Exception {
        Process p = new ProcessBuilder("sh", "-c", command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), command);
        assertEquals(0, p.exitValue(), command + ": " + out);
    }

    private static void phase(ChildJvm.Running jvm, int n) throws Exception {
        jvm.send();
        jvm.awaitPrinted("phase-" + n + "-done", 120);
    }

    private static void awaitDelivered(ChildJvm.Running jvm, int events) throws Exception {
        for (String sink : List.of("jsonl", "pcapng")) {
            jvm.awaitStderr("\"" + sink + "\":{\"delivered\":" + events + ",", 60);
        }
    }

    /** Every line of the file is a whole event (the file ends with a newline); returns them. */
    private static List<Event> wholeLines(Path jsonl) throws Exception {
        byte[] all = Files.readAllBytes(jsonl);
        assertTrue(all.length > 0 && all[all.length - 1] == '\n', jsonl + " ends in a torn line");
        return CapturedEvents.read(jsonl); // throws on a line that is not a whole event
    }

    /** tshark reads the whole file (it fails on a torn block) and finds {@code requests} HTTP requests. */
    private static void assertPcapngRequests(Path pcapng, int requests) throws Exception {
        String uris = Tshark.run("-r", pcapng.toString(), "-Y", "http.request", "-T", "fields", "-e",
                "http.request.uri");
        assertEquals(requests, uris.lines().filter(l -> l.equals("/")).count(), pcapng + ":\n" + uris);
    }

    /** Writes a full disk stopped inside a record; the counter exists once there was one. */
    @SuppressWarnings("unchecked")
    private static long torn(AgentStats s, String sink) {
        Map<String, Object> figures = (Map<String, Object>) ((Map<String, Object>) s.fields().get("sinks")).get(sink);
        Object v = figures.get("torn_writes_undone");
        return v == null ? 0 : (Long) v;
    }

    private static long count(List<String> lines, String text) {
        return lines.stream().filter(l -> l.contains(text)).count();
    }

    @Test
    void aFullDiskHoldsTheEventsAndWritesThemWholeOnceFreedAndMovedFilesAreFollowed() throws Exception {
        Path mnt = Files.createDirectory(tmp.resolve("small"));
        sh("mount -t tmpfs -o size=1m,mode=0700 btf-agent-small " + mnt);
        try {
            Path jsonl = mnt.resolve("events.jsonl");
            Path pcapng = mnt.resolve("events.pcapng");
            Path filler = mnt.resolve("filler");
            ChildJvm.Result r;
            try (ChildJvm.Running jvm = new ChildJvm().agent("sinks=jsonl,pcapng,sink.jsonl.path=" + jsonl
                    + ",sink.pcapng.path=" + pcapng + ",stats.interval=1").start(CLIENT,
                            List.of(HOST, String.valueOf(server.port()), "/", String.valueOf(REQUESTS)))) {
                jvm.awaitStderr(WildflyCaptureIT.READY, 120);
                phase(jvm, 1);
                awaitDelivered(jvm, EVENTS);

                sh("head -c 2m /dev/zero > " + filler + " 2>/dev/null || true"); // until no space is left
                phase(jvm, 2);
                jvm.awaitStderr("WARN  sink jsonl cannot write now: cannot write " + jsonl + ": No space left on device",
                        60);
                jvm.awaitStderr("WARN  sink pcapng cannot write now: cannot write " + pcapng
                        + ": No space left on device", 60);
                // while the disk is full the files hold whole records only
                assertTrue(wholeLines(jsonl).size() < 2 * EVENTS, "phase 2 cannot all fit");
                Tshark.run("-r", pcapng.toString()); // fails on a file cut short in a block
                Files.delete(filler);
                jvm.awaitStderr("WARN  sink jsonl writes again after ", 60);
                jvm.awaitStderr("WARN  sink pcapng writes again after ", 60);
                awaitDelivered(jvm, 2 * EVENTS);
                phase(jvm, 3);
                awaitDelivered(jvm, 3 * EVENTS);

                // logrotate (without copytruncate) renames the files under the running sinks
                Files.move(jsonl, mnt.resolve("events.jsonl.1"));
                Files.move(pcapng, mnt.resolve("events.pcapng.1"));
                Thread.sleep(500);
                phase(jvm, 4);
                awaitDelivered(jvm, 4 * EVENTS);
                assertEquals(EVENTS, wholeLines(jsonl).size(), "phase 4 in a new file");
                assertPcapngRequests(pcapng, REQUESTS);
                // and a delete
                Files.delete(jsonl);
                Files.delete(pcapng);
                Thread.sleep(500);
                phase(jvm, 5);
                awaitDelivered(jvm, 5 * EVENTS);
                r = jvm.finish(60);
            }
            assertEquals(0, r.exitCode(), r.stderr());
            System.out.println("the agent printed:");
            r.agentLines().forEach(l -> System.out.println("  " + l));

            // phases 1 to 3, the full disk's included, whole and in order, in the renamed file
            List<Event> rotated = wholeLines(mnt.resolve("events.jsonl.1"));
            assertEquals(3 * EVENTS, rotated.size());
            for (int i = 1; i < rotated.size(); i++) {
                assertTrue(rotated.get(i - 1).str("ts").compareTo(rotated.get(i).str("ts")) <= 0, "in order at " + i);
            }
            assertEquals(EVENTS, wholeLines(jsonl).size(), "phase 5 in the file started after the delete");
            assertPcapngRequests(mnt.resolve("events.pcapng.1"), 3 * REQUESTS);
            assertPcapngRequests(pcapng, REQUESTS);

            AgentStats s = AgentStats.of(r);
            for (String sink : List.of("jsonl", "pcapng")) {
                assertEquals(5 * EVENTS, s.sink(sink, "delivered_events"), s.toString());
                for (String f : List.of("queue_full_events", "failed_events", "exit_events")) {
                    assertEquals(0, s.sink(sink, f), sink + " " + f + " in " + s);
                }
                assertEquals(s.counter("records"), s.sink(sink, "delivered_events"), "every event delivered");
                assertEquals(2, s.sink(sink, "moved_away"), s.toString());
            }
            // the full disk stopped a write inside a record (phase 2 is more than the page the
            // file's end had left), which was cut off again: the files above are whole all the same
            assertTrue(torn(s, "jsonl") + torn(s, "pcapng") >= 1, s.toString());
            assertEquals(0, s.sink("jsonl", "damaged_lines"), s.toString());
            assertEquals(0, s.sink("pcapng", "damaged_blocks"), s.toString());

            List<String> warnings = r.agentLines().stream().filter(l -> l.contains(" WARN ")).toList();
            String all = String.join("\n", warnings);
            for (String sink : List.of("jsonl", "pcapng")) {
                assertEquals(1, count(warnings, "WARN  sink " + sink + " cannot write now: "), all);
                assertEquals(1, count(warnings, "WARN  sink " + sink + " writes again after "), all);
                assertEquals(2, count(warnings, "WARN  sink " + sink + ": "), all); // renamed, deleted
            }
            assertEquals(8, warnings.size(), all);
            String end = warnings.stream().filter(l -> l.contains("sink jsonl writes again after ")).findFirst()
                    .orElseThrow();
            assertTrue(end.contains(", dropped 0 events (0 bytes) (queue full), failed 0 events (0 bytes)"), end);
        } finally {
            sh("umount " + mnt);
        }
    }
}
