package io.btfagent.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import io.btfagent.demo.TlsEchoServer;
import io.btfagent.demo.WildflyHttpsClient;
import io.btfagent.it.CapturedEvents.Event;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The agent inside real containers (podman with runc; a Debian trixie image with its JDK 21 and
 * OpenSSL 3.5.9, see {@link Container}): capture with identity in the container's own pid,
 * mount and network namespaces, a late dlopen found through the dynamic linker's probe, a
 * JVM that does not run as root, podman's default seccomp profile (refused, in one line that
 * names it) and a profile that allows {@code bpf} and {@code perf_event_open} for CAP_BPF and
 * CAP_PERFMON as Docker's and containerd's current defaults do, and an attach from the host.
 */
@Privileged
class ContainerIT extends AgainstEchoServer {
    private static final List<String> CAPS = List.of("--cap-add=BPF,PERFMON");
    private static final List<String> NO_SECCOMP = List.of("--security-opt", "seccomp=unconfined");
    private static final Pattern LISTENING = Pattern.compile("server listening on 127\\.0\\.0\\.1:(\\d+) \\(JSSE\\)");
    private static final String DEMO = "io.btfagent.demo.DemoMain";
    private static final List<String> WILDFLY = List.of("-Dorg.wildfly.openssl.path=/usr/lib/x86_64-linux-gnu");

    @TempDir
    Path out;

    /**
     * One JVM start in a container first: the first run after an import reads the image's JDK
     * from a cold page cache, slow enough that the demo's first request can come before the
     * agent has woven wildfly-openssl's classes (that connection would lack its identity).
     */
    @BeforeAll
    static void warmTheImage(@TempDir Path dir) throws Exception {
        try (Container c = Container.start(List.of("--network", "none"), dir, List.of(Container.JAVA, "-Xshare:auto",
                "-cp", Container.CLASSPATH_INSIDE, "-version"), false)) {
            assertEquals(0, c.awaitExit(180), c.podman().stderr());
        }
    }

    private static List<String> with(List<String>... parts) {
        List<String> all = new ArrayList<>();
        for (List<String> p : parts) {
            all.addAll(p);
        }
        return all;
    }

    private static List<String> agent(String options) {
        return with(List.of("-javaagent:" + Container.AGENT_INSIDE + "=" + options), WILDFLY);
    }

    /** The demo's run in a container: exit status, stdout and the agent's lines. */
    private record Run(int exit, String stdout, String stderr) {
        List<String> agentLines() {
            return stderr.lines().filter(l -> l.startsWith("[btf-agent]")).toList();
        }
    }

    private Run demo(List<String> options, String agentOptions) throws Exception {
        try (Container c = Container.start(options, out, Container.java(agent(agentOptions), DEMO), false)) {
            int exit = c.awaitExit(180);
            return new Run(exit, c.podman().stdout(), c.podman().stderr());
        }
    }

    /**
     * The demo, its requests held until the agent says `capture ready`: the JSSE server's side
     * is woven only by then (traffic before it is not captured, by design), and a slow start in
     * a container can take that long.
     */
    private Run demoWhenReady(List<String> options, String agentOptions) throws Exception {
        List<String> jvm = agent(agentOptions);
        jvm.add("-Ddemo.await-go=traffic");
        try (Container c = Container.start(options, out, Container.java(jvm, DEMO), true)) {
            c.podman().awaitStderr(s -> s.contains(WildflyCaptureIT.READY), null, ChildProcess.deadline(120),
                    "capture ready", 50);
            c.sendLine();
            int exit = c.awaitExit(180);
            return new Run(exit, c.podman().stdout(), c.podman().stderr());
        }
    }

    /** The one warning of a run whose application ran as without the agent. */
    private static String onlyWarning(Run r) {
        assertEquals(0, r.exit(), r.stderr());
        assertTrue(r.stdout().contains("demo ok"), r.stdout());
        List<String> warnings = r.agentLines().stream().filter(l -> l.contains(" WARN ")).toList();
        assertEquals(1, warnings.size(), String.join("\n", r.agentLines()));
        return warnings.get(0);
    }

    /**
     * The demo's six calls through OpenSSL (the client) and the six of its JSSE server, exactly,
     * with identity as the JVM in the container sees it.
     */
    private void assertDemoCaptured(Run r, Path jsonl) throws Exception {
        assertEquals(0, r.exit(), r.stderr());
        assertTrue(r.stdout().contains("demo ok"), r.stdout());
        Matcher m = LISTENING.matcher(r.stdout());
        assertTrue(m.find(), r.stdout());
        int port = Integer.parseInt(m.group(1));
        List<Event> events = CapturedEvents.read(jsonl);
        List<Event> client = events.stream().filter(e -> "openssl".equals(e.str("lib"))).toList();
        List<Event> server = events.stream().filter(e -> "jsse".equals(e.str("lib"))).toList();
        assertEquals(6, client.size(), "the demo's three requests and responses: " + r.stderr());
        assertEquals(6, server.size(), "the JSSE server's side of them: " + r.stderr());
        assertEquals(12, events.size(), r.stderr());
        List<Event> first = client.stream().filter(e -> e.num("conn") == client.get(0).num("conn")).toList();
        assertArrayEquals(WildflyHttpsClient.request("127.0.0.1", port, "/"), CapturedEvents.stream(first, true));
        assertArrayEquals(TlsEchoServer.responseFor("/"), CapturedEvents.stream(first, false));
        for (Event e : events) {
            // the JVM is the container's first process: pid 1 in its own pid namespace
            assertEquals(1, e.num("pid"), e.fields().toString());
        }
        for (Event e : client) {
            assertEquals("main", e.str("thread"), e.fields().toString() + "\n" + r.stderr());
            assertEquals("3.5.9", e.str("libVersion"));
            assertEquals("client", e.str("role"));
            assertEquals("127.0.0.1:" + port, e.str("remote"));
        }
        for (Event e : server) {
            assertEquals("server", e.str("role"), e.fields().toString());
            assertEquals("127.0.0.1:" + port, e.str("local"));
        }
        assertTrue(r.agentLines().stream().noneMatch(l -> l.contains(" WARN ")), String.join("\n", r.agentLines()));
    }

    @Test
    void capturesWithIdentityInItsOwnNamespaces() throws Exception {
        Run r = demoWhenReady(with(CAPS, NO_SECCOMP, List.of("--network", "none")),
                "sinks=jsonl,sink.jsonl.path=" + Container.OUT_INSIDE + "/events.jsonl");
        assertDemoCaptured(r, out.resolve("events.jsonl"));
    }

    /**
     * A JVM of user nobody: podman gives a non-root process the added capabilities as ambient
     * ones, so the JVM has them effective and captures as root does.
     */
    @Test
    void aNonRootJvmCapturesWithTheContainersCapabilities() throws Exception {
        Files.setPosixFilePermissions(out, PosixFilePermissions.fromString("rwx------"));
        Files.setAttribute(out, "unix:uid", 65534);
        Files.setAttribute(out, "unix:gid", 65534);
        Run r = demoWhenReady(with(CAPS, NO_SECCOMP, List.of("--network", "none", "--user", "65534:65534")),
                "sinks=jsonl,sink.jsonl.path=" + Container.OUT_INSIDE + "/events.jsonl");
        assertDemoCaptured(r, out.resolve("events.jsonl"));
        assertEquals(65534, Files.getAttribute(out.resolve("events.jsonl"), "unix:uid"));
    }

    /**
     * A JVM of user nobody without ambient capabilities (as Docker and Kubernetes start a
     * non-root container): file capabilities on the java launcher (setcap cap_bpf,cap_perfmon+ep,
     * as an image would have them) raise them at exec.
     */
    @Test
    void aNonRootJvmCapturesWithFileCapabilitiesOnJava() throws Exception {
        Files.setPosixFilePermissions(out, PosixFilePermissions.fromString("rwx------"));
        Files.setAttribute(out, "unix:uid", 65534);
        Files.setAttribute(out, "unix:gid", 65534);
        List<String> jvm = agent("sinks=jsonl,sink.jsonl.path=" + Container.OUT_INSIDE + "/events.jsonl");
        jvm.add("-Ddemo.await-go=traffic"); // as demoWhenReady
        List<String> java = Container.java(jvm, DEMO);
        String script = "setcap cap_bpf,cap_perfmon+ep \"$(readlink -f " + Container.JAVA + ")\" && cd /tmp && "
                + "exec setpriv --reuid=65534 --regid=65534 --clear-groups --inh-caps=-all " + String.join(" ", java);
        Run r;
        try (Container c = Container.start(with(CAPS, NO_SECCOMP, List.of("--network", "none", "-v",
                Path.of("/usr/sbin/setcap") + ":/usr/local/sbin/setcap:ro")), out, List.of("sh", "-c", script), true)) {
            c.podman().awaitStderr(s -> s.contains(WildflyCaptureIT.READY), null, ChildProcess.deadline(120),
                    "capture ready", 50);
            c.sendLine();
            int exit = c.awaitExit(180);
            r = new Run(exit, c.podman().stdout(), c.podman().stderr());
        }
        assertDemoCaptured(r, out.resolve("events.jsonl"));
        assertEquals(65534, Files.getAttribute(out.resolve("events.jsonl"), "unix:uid"));
    }

    /** Without the capabilities: one line that says which are missing and how to add them. */
    @Test
    void aContainerWithoutTheCapabilitiesSaysHowToAddThem() throws Exception {
        Run r = demo(with(NO_SECCOMP, List.of("--network", "none")), "sinks=log");
        String warning = onlyWarning(r);
        assertTrue(warning.contains("capture disabled: this process lacks CAP_BPF and CAP_PERFMON (or "
                + "CAP_SYS_ADMIN)") && warning.contains("--cap-add=BPF,PERFMON"), warning);
    }

    /**
     * A container with a user namespace (its root is uid 100000 outside, as in a rootless or
     * userns-remapped container): BPF is the initial user namespace's alone, whatever the
     * capabilities; one line says so and the application runs.
     */
    @Test
    void aUserNamespaceIsNamed() throws Exception {
        assumeFalse(Container.chrooted(), "this test runs chrooted, and the kernel refuses a chrooted process new user "
                + "namespaces (runc cannot create this container here)");
        Run r = demo(with(CAPS, NO_SECCOMP, List.of("--network", "none", "--uidmap", "0:100000:65536", "--gidmap",
                "0:100000:65536")), "sinks=log");
        String warning = onlyWarning(r);
        assertTrue(warning.contains("capture disabled: this process runs in a user namespace"), warning);
    }

    /**
     * podman 4's default seccomp profile allows bpf() only with CAP_SYS_ADMIN: the line names
     * the filter and the syscalls, and the application runs as without the agent. A profile
     * that allows bpf and perf_event_open for CAP_BPF and CAP_PERFMON, as Docker's and
     * containerd's current defaults do, captures.
     */
    @Test
    void seccompIsNamedAndAProfileThatAllowsBpfCaptures() throws Exception {
        Run refused = demo(with(CAPS, List.of("--network", "none")), "sinks=log");
        String warning = onlyWarning(refused);
        assertTrue(warning.contains("refused because a seccomp filter (Seccomp: 2 in /proc/self/status) "
                + "refuses it although the capabilities are there: allow the bpf and perf_event_open syscalls"),
                warning);

        Path profile = out.resolve("seccomp.json");
        Files.writeString(profile, SeccompProfile.allowingBpfForItsCapabilities(
                Files.readString(Path.of("/usr/share/containers/seccomp.json"))));
        Run r = demoWhenReady(with(CAPS, List.of("--network", "none", "--security-opt", "seccomp=" + profile)),
                "sinks=jsonl,sink.jsonl.path=" + Container.OUT_INSIDE + "/events.jsonl");
        assertDemoCaptured(r, out.resolve("events.jsonl"));
    }

    /** watch from the host on a JVM in a container: attached, the exchange shown, detached on SIGINT. */
    @Test
    void watchFromTheHostShowsAContainersTraffic() throws Exception {
        List<String> options = with(CAPS, NO_SECCOMP, List.of("--network", "host"));
        try (Container c = Container.start(options, out, Container.java(WILDFLY,
                "io.btfagent.demo.WildflyOnDemandClient", HOST, String.valueOf(server.port()), "/"), true)) {
            ChildProcess p = c.podman();
            p.awaitStdout(s -> s.contains("ready"), ChildProcess.deadline(120), "ready", 50);
            long pid = c.hostPid();
            try (ChildProcess w = ChildProcess.start(List.of(ChildJvm.JAVA, "-jar",
                    ChildJvm.AGENT_JAR.toAbsolutePath().toString(), "watch", String.valueOf(pid)), Map.of(), false)) {
                w.awaitStderr(s -> s.contains("; Ctrl-C ends"), null, ChildProcess.deadline(120), "watching", 50);
                c.sendLine();
                p.awaitStdout(s -> s.contains("done 1 "), ChildProcess.deadline(60), "done 1", 50);
                w.awaitStdout(s -> s.contains("hello from btf-agent demo"), ChildProcess.deadline(60), "the response",
                        50);
                new ProcessBuilder("kill", "-INT", String.valueOf(w.pid())).start().waitFor(10, TimeUnit.SECONDS);
                w.awaitExit(ChildProcess.deadline(60));
                assertTrue(w.stdout().contains("\n  GET / HTTP/1.1\n"), w.stdout());
                assertTrue(w.stdout().contains("openssl 3.5.9 SSL_write egress"), w.stdout());
                assertTrue(w.stderr().contains("btf-agent detached from pid " + pid), w.stderr());
            }
            p.closeStdin();
            assertEquals(0, c.awaitExit(60), p.stderr());
        }
    }

    /** doctor inside a container under podman's default seccomp profile tries one bpf() call and names the filter. */
    @Test
    void doctorInsideAContainerTriesBpfAndNamesTheSeccompFilter() throws Exception {
        List<String> inside = List.of(Container.JAVA, "-jar", Container.AGENT_INSIDE, "doctor");
        try (Container c = Container.start(with(CAPS, List.of("--network", "none")), out, inside, false)) {
            assertEquals(1, c.awaitExit(120), c.podman().stdout() + c.podman().stderr());
            String text = c.podman().stdout();
            assertTrue(text.contains("\n✗ a bpf() call from this process was refused: bpf(BPF_MAP_CREATE) failed "
                    + "(errno 1); refused because a seccomp filter (Seccomp: 2 in /proc/self/status) refuses it"), text);
            assertTrue(text.endsWith("capture would not work: fix the lines marked ✗\n"), text);
        }
    }

    /**
     * doctor from the host reads the JVM's capabilities and seccomp mode and says that the
     * filter must allow the syscalls.
     */
    @Test
    void doctorFromTheHostSaysTheSeccompFilterMustAllowTheSyscalls() throws Exception {
        assumeFalse(Container.chrooted(), "this test runs chrooted: the container's libraries, seen from here through "
                + "/proc/<pid>/maps, are outside this root, which a host's doctor never meets");
        try (Container c = Container.start(with(CAPS, List.of("--network", "host")), out, Container.java(WILDFLY,
                "io.btfagent.demo.WildflyOnDemandClient", HOST, String.valueOf(server.port()), "/"), true)) {
            c.podman().awaitStdout(s -> s.contains("ready"), ChildProcess.deadline(120), "ready", 50);
            String pid = String.valueOf(c.hostPid());
            RunningJvm.Command doctor = RunningJvm.command(ChildJvm.AGENT_JAR, "doctor", pid);
            assertTrue(doctor.stdout().contains("\n· pid " + pid + " (root) runs under a seccomp filter: capture "
                    + "there needs it to allow the bpf and perf_event_open syscalls"), doctor.stdout());
            assertTrue(doctor.stdout().endsWith("capture would work in pid " + pid + " if its seccomp filter allows "
                    + "bpf and perf_event_open (run doctor inside its container to try it)\n"), doctor.stdout());
            c.podman().closeStdin();
            assertEquals(0, c.awaitExit(60), c.podman().stderr());
        }
    }

    /**
     * dlopen from native code inside a container: the dynamic linker's probe (a uprobe_multi
     * link: a perf-event uprobe would need CAP_SYS_ADMIN) wakes the scan. The scan's own
     * period is 10 minutes here.
     */
    @Test
    void aLateDlopenIsHookedThroughTheLinkerProbe() throws Exception {
        String lib = "/btf/libs/openssl-1.1.1w";
        List<String> options = with(CAPS, NO_SECCOMP, List.of("--network", "host", "-e", "LD_LIBRARY_PATH=" + lib,
                "-v", LateLoadIT.LIB_DIR.toAbsolutePath() + ":" + lib + ":ro"));
        List<String> jvm = agent("sinks=jsonl,sink.jsonl.path=" + Container.OUT_INSIDE
                + "/events.jsonl,watch.paths=,scan.interval-ms=600000,late-loads=linker");
        jvm.addAll(List.of("-Ddemo.dlopen-first=true", "-Ddemo.await-go=load"));
        String hooked;
        try (Container c = Container.start(options, out, Container.java(jvm, "io.btfagent.demo.SocketBioClient", HOST,
                String.valueOf(server.port()), "/", lib + "/libssl.so.1.1"), true)) {
            ChildProcess p = c.podman();
            p.awaitStderr(s -> s.contains(WildflyCaptureIT.WATCHING), null, ChildProcess.deadline(120), "watching",
                    100);
            c.sendLine();
            p.awaitStdout(s -> s.contains("dlopened"), ChildProcess.deadline(60), "dlopened", 50);
            p.awaitStderr(s -> s.contains("hooked openssl 1.1.1w"), null, ChildProcess.deadline(60), "the hook", 20);
            c.sendLine();
            assertEquals(0, c.awaitExit(60), p.stderr());
            hooked = p.stderr().lines().filter(l -> l.contains("hooked openssl 1.1.1w")).findFirst().orElseThrow();
            assertTrue(p.stderr().lines().noneMatch(l -> l.contains(" WARN ")), p.stderr());
        }
        assertTrue(hooked.contains("ms after the dynamic linker reported it mapped"), hooked);
        System.out.println("in a container: " + hooked);
        List<Event> events = CapturedEvents.read(out.resolve("events.jsonl"));
        assertArrayEquals(WildflyHttpsClient.request(HOST, server.port(), "/"), CapturedEvents.stream(events, true));
        assertArrayEquals(TlsEchoServer.responseFor("/"), CapturedEvents.stream(events, false));
        events.forEach(e -> assertEquals(1, e.num("pid")));
    }

    /**
     * A JVM started in a container without the agent, attached from the host by its host pid:
     * the events carry the pid the JVM sees in its own namespace.
     */
    @Test
    void anAttachFromTheHostCaptures() throws Exception {
        List<String> options = with(CAPS, NO_SECCOMP, List.of("--network", "host"));
        try (Container c = Container.start(options, out, Container.java(WILDFLY,
                "io.btfagent.demo.WildflyOnDemandClient", HOST, String.valueOf(server.port()), "/"), true)) {
            ChildProcess p = c.podman();
            p.awaitStdout(s -> s.contains("ready"), ChildProcess.deadline(120), "ready", 50);
            String pid = String.valueOf(c.hostPid());
            RunningJvm.Command attach = RunningJvm.command(ChildJvm.AGENT_JAR, "attach", pid,
                    "sinks=jsonl,sink.jsonl.path=" + Container.OUT_INSIDE + "/attach.jsonl");
            assertEquals(0, attach.exitCode(), attach.stdout() + attach.stderr());
            assertTrue(attach.stdout().contains("events go to: jsonl " + Container.OUT_INSIDE + "/attach.jsonl"),
                    attach.stdout());
            c.sendLine();
            p.awaitStdout(s -> s.contains("done 1 "), ChildProcess.deadline(60), "done 1", 50);
            RunningJvm.Command detach = RunningJvm.command(ChildJvm.AGENT_JAR, "detach", pid);
            assertEquals(0, detach.exitCode(), detach.stdout() + detach.stderr());
            c.podman().closeStdin();
            assertEquals(0, c.awaitExit(60), p.stderr());
        }
        List<Event> events = CapturedEvents.read(out.resolve("attach.jsonl"));
        assertArrayEquals(WildflyHttpsClient.request(HOST, server.port(), "/"), CapturedEvents.stream(events, true));
        assertArrayEquals(TlsEchoServer.responseFor("/"), CapturedEvents.stream(events, false));
        events.forEach(e -> assertEquals(1, e.num("pid")));
    }
}
