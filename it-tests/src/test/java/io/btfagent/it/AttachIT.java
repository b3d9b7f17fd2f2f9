package io.btfagent.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.btfagent.demo.TlsEchoServer;
import io.btfagent.demo.WildflyHttpsClient;
import io.btfagent.it.CapturedEvents.Event;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * {@code attach}, {@code status} and {@code detach} against a service JVM started without the
 * agent (wildfly-openssl over the system's libssl): captured with exact bytes after attach,
 * nothing of the agent left in the process or the kernel after detach, captured again after a
 * second attach; and the cases where attaching cannot work, each one line and a non-zero exit
 * with the service unaffected.
 */
@Privileged
class AttachIT extends AgainstEchoServer {
    private static final Path JAR = ChildJvm.AGENT_JAR;

    @Test
    void attachCaptureDetachAndAttachAgain() throws Exception {
        byte[] request = WildflyHttpsClient.request(HOST, server.port(), "/");
        byte[] response = TlsEchoServer.responseFor("/");
        Path first = tmp.resolve("first.jsonl");
        Path second = tmp.resolve("second.jsonl");
        try (RunningJvm service = new RunningJvm(List.of(), ChildJvm.CLASSPATH, List.of(), server.port())) {
            String pid = String.valueOf(service.pid());
            assertEquals(Set.of(), agentObjects(service.pid()), "nothing of BPF before the attach");

            RunningJvm.Command attach = RunningJvm.command(JAR, "attach", pid, "sinks=jsonl,sink.jsonl.path=" + first);
            assertEquals(0, attach.exitCode(), attach.stderr());
            List<String> lines = attach.stdout().lines().toList();
            assertTrue(lines.get(0).startsWith("btf-agent attached to pid " + pid + " (Java "), lines.get(0));
            assertEquals("events go to: jsonl " + first, lines.get(1));
            assertTrue(lines.stream().anyMatch(l -> l.startsWith("INFO hooked openssl ")
                    && l.contains(" at " + ChildJvm.LIBSSL_DIR + "/libssl.so.3 ")), attach.stdout());
            assertEquals("", attach.stderr());
            Set<String> linksWhileAttached = linkIds(service.pid());
            assertFalse(linksWhileAttached.isEmpty(), "the service holds BPF links: " + agentObjects(service.pid()));
            assertTrue(kernelLinkIds().containsAll(linksWhileAttached), "the kernel lists them");

            RunningJvm.Command doctor = RunningJvm.command(JAR, "doctor", pid);
            assertTrue(doctor.stdout().contains("\n· btf-agent already runs in pid " + pid + ": 'status " + pid
                    + "' shows it\n"), doctor.stdout());

            String done = service.request();
            List<Event> events = awaitEvents(first, 2);
            assertArrayEquals(request, events.get(0).data());
            assertArrayEquals(response, events.get(1).data());
            for (Event e : events) {
                assertEquals(service.pid(), e.num("pid"));
                assertEquals(ChildJvm.LIBSSL_DIR + "/libssl.so.3", e.str("libPath"));
            }
            assertTrue(done.contains("request-sha256 " + WildflyHttpsClient.sha256(request)), done);

            RunningJvm.Command status = RunningJvm.command(JAR, "status", pid);
            assertEquals(0, status.exitCode(), status.stderr());
            assertTrue(status.stdout().startsWith("btf-agent running in pid " + pid + "\n"), status.stdout());
            assertTrue(status.stdout().lines().anyMatch(l -> l.startsWith("  openssl ")
                    && l.contains(" at " + ChildJvm.LIBSSL_DIR + "/libssl.so.3 ")), status.stdout());
            assertTrue(status.stdout().contains("\nsinks: jsonl " + first + "\n"), status.stdout());
            Path control = Path.of("/tmp/.btf-agent-" + pid);
            assertTrue(status.stdout().endsWith("\ncontrol socket: " + control.resolve("control.sock") + "\n"),
                    status.stdout());
            String stats = status.stdout().lines().filter(l -> l.startsWith("capture stats {")).findFirst()
                    .orElseThrow();
            assertTrue(stats.contains("\"records\":2,") && stats.contains("\"records_lost\":0,")
                    && stats.contains("\"sinks\":{\"jsonl\":{\"delivered\":2,\"dropped\":0,\"failed\":0,"), stats);

            RunningJvm.Command detach = RunningJvm.command(JAR, "detach", pid);
            assertEquals(0, detach.exitCode(), detach.stderr());
            assertTrue(detach.stdout().startsWith("btf-agent detached from pid " + pid + ": probes of "), detach.stdout());
            assertTrue(detach.stdout().contains("\ncapture summary: calls="), detach.stdout());
            assertEquals(Set.of(), agentObjects(service.pid()), "no BPF link, program, map or perf event left");
            Set<String> stillListed = new TreeSet<>(kernelLinkIds());
            stillListed.retainAll(linksWhileAttached);
            assertEquals(Set.of(), stillListed, "the kernel no longer lists the service's links");
            assertEquals(List.of(), agentThreads(service.pid()), "the agent's threads have ended");
            assertFalse(Files.exists(control), "the control socket is gone");

            service.request();
            Thread.sleep(500);
            assertEquals(2, CapturedEvents.read(first).size(), "nothing is captured after the detach");
            RunningJvm.Command statusDetached = RunningJvm.command(JAR, "status", pid);
            assertEquals(1, statusDetached.exitCode());
            assertTrue(statusDetached.stderr().startsWith("btf-agent is not running in pid " + pid), statusDetached.stderr());

            RunningJvm.Command again = RunningJvm.command(JAR, "attach", pid, "sinks=jsonl,sink.jsonl.path=" + second);
            assertEquals(0, again.exitCode(), again.stderr());
            assertTrue(again.stdout().lines().anyMatch(l -> l.startsWith("INFO hooked openssl ")), again.stdout());
            RunningJvm.Command twice = RunningJvm.command(JAR, "attach", pid);
            assertEquals(1, twice.exitCode());
            assertTrue(twice.stderr().startsWith("btf-agent is already running in pid " + pid), twice.stderr());

            service.request();
            List<Event> again2 = awaitEvents(second, 2);
            assertArrayEquals(request, again2.get(0).data());
            assertArrayEquals(response, again2.get(1).data());
            assertEquals(2, CapturedEvents.read(first).size());

            assertEquals(0, RunningJvm.command(JAR, "detach", pid).exitCode());
            assertEquals(Set.of(), agentObjects(service.pid()));
            assertEquals(0, service.finish(), service.stderr());
            assertEquals(3, service.stdout().lines().filter(l -> l.startsWith("done ")).count());
            // status and detach of a running agent go through its socket: the jar is loaded again only
            // by the three attach commands and the status of the detached JVM (Java 21+ warns each time)
            Matcher java = Pattern.compile("\\(Java (\\d+)").matcher(attach.stdout());
            assertTrue(java.find(), attach.stdout());
            long loads = service.stderr().lines().filter(l -> l.startsWith("WARNING: A Java agent has been loaded "
                    + "dynamically")).count();
            assertEquals(Integer.parseInt(java.group(1)) >= 21 ? 4 : 0, loads, service.stderr());
        }
    }

    @Test
    void anAgentStartedWithJavaagentIsDetachedAndThenAttachedAgain() throws Exception {
        Path first = tmp.resolve("javaagent.jsonl");
        Path second = tmp.resolve("attached.jsonl");
        try (RunningJvm service = new RunningJvm(List.of(), ChildJvm.CLASSPATH, List.of("-javaagent:"
                + JAR.toAbsolutePath() + "=sinks=jsonl,sink.jsonl.path=" + first), server.port())) {
            String pid = String.valueOf(service.pid());
            long deadline = System.nanoTime() + 60_000_000_000L;
            while (!service.stderr().contains(WildflyCaptureIT.READY) && System.nanoTime() < deadline) {
                Thread.sleep(50);
            }
            service.request();
            assertEquals(2, awaitEvents(first, 2).size());

            RunningJvm.Command attach = RunningJvm.command(JAR, "attach", pid);
            assertEquals(1, attach.exitCode());
            assertTrue(attach.stderr().startsWith("btf-agent is already running in pid " + pid + " (by -javaagent"),
                    attach.stderr());
            RunningJvm.Command status = RunningJvm.command(JAR, "status", pid);
            assertEquals(0, status.exitCode(), status.stderr());
            assertTrue(status.stdout().contains("\nsinks: jsonl " + first + "\n"), status.stdout());
            RunningJvm.Command detach = RunningJvm.command(JAR, "detach", pid);
            assertEquals(0, detach.exitCode(), detach.stderr());
            assertEquals(Set.of(), agentObjects(service.pid()));
            assertEquals(List.of(), agentThreads(service.pid()));

            service.request();
            RunningJvm.Command again = RunningJvm.command(JAR, "attach", pid, "sinks=jsonl,sink.jsonl.path=" + second);
            assertEquals(0, again.exitCode(), again.stderr());
            service.request();
            List<Event> events = awaitEvents(second, 2);
            assertArrayEquals(WildflyHttpsClient.request(HOST, server.port(), "/"), events.get(0).data());
            assertEquals(2, CapturedEvents.read(first).size(), "the detached agent's sink got nothing more");
            assertEquals(0, RunningJvm.command(JAR, "detach", pid).exitCode());
            assertEquals(0, service.finish(), service.stderr());
        }
    }

    @Test
    void aJvmWithAttachDisabledIsOneLineAndUnaffected() throws Exception {
        try (RunningJvm service = new RunningJvm(List.of(), ChildJvm.CLASSPATH,
                List.of("-XX:+DisableAttachMechanism"), server.port())) {
            String pid = String.valueOf(service.pid());
            RunningJvm.Command attach = RunningJvm.command(JAR, "attach", pid);
            assertEquals(1, attach.exitCode());
            assertEquals("", attach.stdout());
            assertEquals("pid " + pid + " was started with -XX:+DisableAttachMechanism, so no tool can attach to it; "
                    + "restart it with -javaagent:btf-agent.jar (or without that option)\n", attach.stderr());
            assertTrue(service.request().contains("HTTP/1.1 200 OK"));
            assertEquals(0, service.finish(), service.stderr());
            assertFalse(service.stderr().contains("[btf-agent]"), service.stderr());
        }
    }

    @Test
    void aJvmOfAnotherUserIsOneLineAndUnaffected() throws Exception {
        Path dir = Files.createDirectories(tmp.resolve("world-readable"));
        Path jar = Files.copy(JAR, dir.resolve("btf-agent.jar"));
        StringBuilder cp = new StringBuilder();
        for (String entry : ChildJvm.CLASSPATH.split(":")) {
            Path target = dir.resolve("cp" + cp.length());
            SuiteRoot.copyTree(Path.of(entry), target);
            cp.append(cp.length() == 0 ? "" : ":").append(target);
        }
        openToAll(tmp);
        List<String> asNobody = List.of("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups",
                "--inh-caps=-all", "--");
        List<String> asDaemon = List.of("setpriv", "--reuid=1", "--regid=1", "--clear-groups", "--inh-caps=-all", "--");
        try (RunningJvm service = new RunningJvm(asNobody, cp.toString(), List.of("-Duser.home=" + dir),
                server.port())) {
            String pid = String.valueOf(service.pid());
            // another unprivileged user: refused before anything is tried
            RunningJvm.Command other = RunningJvm.command(asDaemon, jar, "attach", pid);
            assertEquals(1, other.exitCode());
            assertEquals("", other.stdout());
            assertEquals("pid " + pid + " runs as user nobody (uid 65534), this command as daemon (uid 1): run it as "
                    + "nobody (e.g. sudo -u nobody java -jar btf-agent.jar ...) or as root\n", other.stderr());

            // root may attach, but the agent in a JVM without CAP_BPF/CAP_PERFMON says it cannot capture
            RunningJvm.Command root = RunningJvm.command(jar, "attach", pid, "sinks=jsonl,sink.jsonl.path="
                    + dir.resolve("never.jsonl"));
            assertEquals(1, root.exitCode(), root.stdout());
            List<String> lines = root.stderr().lines().toList();
            assertEquals(1, lines.size(), root.stderr());
            assertTrue(lines.get(0).startsWith("WARN capture disabled: this process lacks CAP_BPF and CAP_PERFMON"),
                    lines.get(0));

            assertTrue(service.request().contains("HTTP/1.1 200 OK"));
            assertFalse(Files.exists(dir.resolve("never.jsonl")));
            // the failed attach left the guard clear: status says nothing runs
            RunningJvm.Command status = RunningJvm.command(jar, "status", pid);
            assertEquals(1, status.exitCode());
            assertTrue(status.stderr().startsWith("btf-agent is not running in pid " + pid), status.stderr());
            assertEquals(0, service.finish(), service.stderr());
        }
    }

    @Test
    void aJvmInAContainerIsAttachedThroughItsOwnTmpAndPidNamespace() throws Exception {
        // its own pid namespace (it is pid 1 there) and mount namespace with a /tmp of its own
        List<String> container = List.of("unshare", "--mount", "--pid", "--fork", "--mount-proc", "sh", "-c",
                "mount -t tmpfs tmpfs /tmp && exec \"$0\" \"$@\"");
        try (RunningJvm service = new RunningJvm(container, ChildJvm.CLASSPATH, List.of(), server.port())) {
            long pid = service.pid();
            assertTrue(Files.readString(Path.of("/proc", String.valueOf(pid), "status")).contains("\nNSpid:\t" + pid
                    + "\t1\n"), "pid 1 in its own namespace");
            RunningJvm.Command attach = RunningJvm.command(JAR, "attach", String.valueOf(pid),
                    "sinks=jsonl,sink.jsonl.path=/tmp/events.jsonl");
            assertEquals(0, attach.exitCode(), attach.stderr());
            assertTrue(attach.stdout().startsWith("btf-agent attached to pid " + pid + " "), attach.stdout());
            assertTrue(attach.stdout().contains("\nevents go to: jsonl /tmp/events.jsonl\n"), attach.stdout());
            assertTrue(attach.stdout().endsWith("from here they are below /proc/" + pid + "/root\n"), attach.stdout());
            assertFalse(Files.exists(Path.of("/tmp/events.jsonl")), "written in the container's /tmp, not ours");

            service.request();
            List<Event> events = awaitEvents(Path.of("/proc/" + pid + "/root/tmp/events.jsonl"), 2);
            assertArrayEquals(WildflyHttpsClient.request(HOST, server.port(), "/"), events.get(0).data());
            assertArrayEquals(TlsEchoServer.responseFor("/"), events.get(1).data());
            assertEquals(1, events.get(0).num("pid"), "the pid the JVM sees in its own namespace");

            assertEquals(0, RunningJvm.command(JAR, "detach", String.valueOf(pid)).exitCode());
            assertEquals(Set.of(), agentObjects(pid));
            assertEquals(0, service.finish(), service.stderr());
        }
    }

    /** The BPF and perf-event file descriptors a process holds, as "fd -> kind". */
    static Set<String> agentObjects(long pid) throws IOException {
        Set<String> out = new TreeSet<>();
        try (var fds = Files.list(Path.of("/proc", String.valueOf(pid), "fd"))) {
            for (Path fd : (Iterable<Path>) fds::iterator) {
                String target;
                try {
                    target = Files.readSymbolicLink(fd).toString();
                } catch (IOException closed) {
                    continue;
                }
                if (target.startsWith("anon_inode:bpf") || target.equals("anon_inode:[perf_event]")) {
                    out.add(fd.getFileName() + " -> " + target);
                }
            }
        }
        return out;
    }

    /** The ids of the BPF links a process holds, from its fdinfo. */
    static Set<String> linkIds(long pid) throws IOException {
        Set<String> ids = new TreeSet<>();
        Pattern id = Pattern.compile("(?m)^link_id:\\s+(\\d+)$");
        for (String entry : agentObjects(pid)) {
            if (entry.endsWith("anon_inode:bpf_link")) {
                String fd = entry.substring(0, entry.indexOf(' '));
                Matcher m = id.matcher(Files.readString(Path.of("/proc", String.valueOf(pid), "fdinfo", fd)));
                if (m.find()) {
                    ids.add(m.group(1));
                }
            }
        }
        return ids;
    }

    /** The ids of every BPF link the kernel lists ({@code bpftool link list}). */
    static Set<String> kernelLinkIds() throws Exception {
        Process p = new ProcessBuilder("bpftool", "-j", "link", "list").redirectErrorStream(true).start();
        String json = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.waitFor(), json);
        Set<String> ids = new TreeSet<>();
        Matcher m = Pattern.compile("\\{\"id\":(\\d+),").matcher(json);
        while (m.find()) {
            ids.add(m.group(1));
        }
        return ids;
    }

    /** Names of the agent's threads in a running JVM, from {@code /proc/<pid>/task/<tid>/comm}. */
    static List<String> agentThreads(long pid) throws IOException {
        List<String> out = new ArrayList<>();
        try (var tasks = Files.list(Path.of("/proc", String.valueOf(pid), "task"))) {
            for (Path t : (Iterable<Path>) tasks::iterator) {
                try {
                    String comm = Files.readString(t.resolve("comm")).strip();
                    if (comm.startsWith("btf-agent")) {
                        out.add(comm);
                    }
                } catch (IOException ended) {
                    // the thread ended meanwhile
                }
            }
        }
        return out;
    }

    private static List<Event> awaitEvents(Path jsonl, int count) throws Exception {
        long deadline = System.nanoTime() + 20_000_000_000L;
        while (true) {
            List<Event> events = Files.exists(jsonl) ? CapturedEvents.read(jsonl) : List.of();
            if (events.size() >= count || System.nanoTime() > deadline) {
                assertEquals(count, events.size(), "events in " + jsonl);
                return events;
            }
            Thread.sleep(50);
        }
    }

    static void openToAll(Path root) throws IOException {
        try (var s = Files.walk(root)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                p.toFile().setReadable(true, false);
                if (Files.isDirectory(p)) {
                    p.toFile().setExecutable(true, false);
                    p.toFile().setWritable(true, false);
                }
            }
        }
    }
}
