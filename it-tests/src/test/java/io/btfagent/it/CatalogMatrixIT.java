package io.btfagent.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeFalse;

import io.btfagent.demo.TlsEchoServer;
import io.btfagent.demo.WildflyHttpsClient;
import io.btfagent.it.CapturedEvents.Event;
import io.btfagent.it.SuiteRoot.Child;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

/**
 * Every build of the BTF catalog ({@code native-targets/catalog/index.tsv}), end to end with
 * the real shared library from its Debian package (fetched by {@code bin/fetch-catalog-libs.sh}
 * before the integration tests):
 * <ul>
 * <li>a socket-BIO client (OpenSSL: {@code SSL_set_fd}; GnuTLS: {@code gnutls_transport_set_int2})
 * in a JVM with the agent: the events carry the exact bytes and exactly the fd, local and remote
 * address of the client's socket;</li>
 * <li>for OpenSSL, wildfly-openssl (memory BIO pair) in a JVM with the agent: exact bytes and
 * {@code fd == -1}.</li>
 * </ul>
 * bullseye and bookworm builds run on the host's JVM; builds needing a newer glibc run in a
 * debootstrap'd root of their suite ({@link SuiteRoot}) on that suite's JDK: trixie builds in
 * the trixie root, sid and experimental builds in the sid root.
 */
@Privileged
class CatalogMatrixIT {
    private static final String HOST = "127.0.0.1";
    private static final long TIMEOUT_S = 120;
    /** The catalog's index in this checkout. */
    static final Path INDEX = Path.of(System.getProperty("it.catalog.index", "../native-targets/catalog/index.tsv"));
    static final Path LIBS = Path.of(System.getenv().getOrDefault("BTF_AGENT_CACHE",
            System.getProperty("user.home") + "/.cache/btf-agent"), "libs");

    /** One line of the index. */
    record Build(String lib, String version, String buildId, String suite, String pkg, String debVersion) {
        /** Where bin/fetch-catalog-libs.sh extracted this build's libraries. */
        Path libDir() {
            return LIBS.resolve(lib + "-" + debVersion);
        }

        /** The root this build runs in, or null for the host. */
        String rootSuite() {
            if (suite.startsWith("bullseye") || suite.startsWith("bookworm")) {
                return null;
            }
            if (suite.startsWith("trixie")) {
                return "trixie";
            }
            if (suite.equals("sid") || suite.equals("unstable") || suite.equals("experimental")
                    || suite.startsWith("forky")) {
                return "sid";
            }
            throw new AssertionError("no place to run a build of suite " + suite + " (" + this + ")");
        }

        /** The library the client loads (and whose build-id the row names). */
        String mainFile() throws IOException {
            if (lib.equals("gnutls")) {
                return "libgnutls.so.30";
            }
            try (Stream<Path> s = Files.list(libDir())) {
                return s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("libssl.so.")).findFirst()
                        .orElseThrow(() -> new AssertionError("no libssl.so.* in " + libDir()
                                + " (bin/fetch-catalog-libs.sh extracts it)"));
            }
        }

        /** The files a run needs from the build's directory. */
        List<String> files() throws IOException {
            String main = mainFile();
            return lib.equals("openssl") ? List.of(main, "libcrypto.so." + main.substring("libssl.so.".length()))
                    : List.of(main);
        }

        @Override
        public String toString() {
            return lib + " " + version + " " + suite + " " + pkg + "=" + debVersion + " (" + buildId.substring(0, 12) + ")";
        }
    }

    static List<Build> builds() throws IOException {
        List<Build> out = new ArrayList<>();
        for (String line : Files.readAllLines(INDEX)) {
            String[] f = line.split("\t");
            if (line.isBlank() || f[0].equals("lib")) {
                continue;
            }
            String[] pkg = f[4].split("=", 2);
            out.add(new Build(f[0], f[1], f[2], f[3], pkg[0], pkg[1]));
        }
        assertFalse(out.isEmpty(), "no builds in " + INDEX);
        return out;
    }

    static Stream<Build> allBuilds() throws IOException {
        return builds().stream();
    }

    /** wildfly-openssl 2.2.5 runs with 1.1.1, 3.x (3.0 to 3.6) and 4.0 (measured with every catalog build). */
    static Stream<Build> wildflyBuilds() throws IOException {
        return builds().stream().filter(b -> b.lib().equals("openssl")
                && b.version().matches("(1\\.1\\.1|3\\.\\d+|4\\.0)\\..*|1\\.1\\.1[a-z]*"));
    }

    private static TlsEchoServer server;
    private static final Map<String, SuiteRoot> ROOTS = new HashMap<>();
    private static final Map<String, Long> SETUP_MS = new LinkedHashMap<>();

    @TempDir
    Path tmp;

    @BeforeAll
    static void startServer() throws IOException {
        assumeFalse(Boolean.getBoolean("it.catalog-matrix.skip"),
                "the matrix runs once, each build on its suite's own JDK (skipped in this execution)");
        server = new TlsEchoServer().start();
    }

    @AfterAll
    static void stopServerAndRoots() throws IOException {
        try {
            if (server != null) {
                server.close();
            }
        } finally {
            for (SuiteRoot r : ROOTS.values()) {
                r.close();
            }
            ROOTS.clear();
            SETUP_MS.forEach((k, v) -> System.out.println("matrix: " + k + " root ready in " + v + " ms"));
        }
    }

    private static synchronized SuiteRoot root(String suite) throws IOException, InterruptedException {
        SuiteRoot r = ROOTS.get(suite);
        if (r == null) {
            long t0 = System.nanoTime();
            r = SuiteRoot.open(suite);
            ROOTS.put(suite, r);
            SETUP_MS.put(suite, (System.nanoTime() - t0) / 1_000_000);
        }
        return r;
    }

    /** Where a run's files are, seen from inside the process and from the test. */
    private record Placement(SuiteRoot root, String libDir, String jsonl, Path jsonlOnHost) {
    }

    private Placement place(Build b, String name) throws Exception {
        assertTrue(Files.isRegularFile(b.libDir().resolve(b.mainFile())),
                b.libDir() + " lacks " + b.mainFile() + ": run it-tests/bin/fetch-catalog-libs.sh");
        assertEquals(b.buildId(), Libraries.buildId(b.libDir().resolve(b.mainFile())),
                "the library under test is the catalog's build");
        String rootSuite = b.rootSuite();
        if (rootSuite == null) {
            Path jsonl = tmp.resolve(name + ".jsonl");
            return new Placement(null, b.libDir().toRealPath().toString(), jsonl.toString(), jsonl);
        }
        SuiteRoot root = root(rootSuite);
        String libDir = root.copyIn(b.libDir(), b.files());
        String out = root.outDir(name + "-" + System.nanoTime());
        return new Placement(root, libDir, out + "/events.jsonl", root.host(out + "/events.jsonl"));
    }

    /** Runs a demo main with the agent (jsonl sink, watching the build's directory); traffic after the hook. */
    private Child.Result runWithAgent(Build b, Placement at, String main, List<String> args, List<String> jvmArgs,
            boolean libraryPath) throws Exception {
        return runWithAgent(b, at, main, args, jvmArgs, libraryPath, "");
    }

    private Child.Result runWithAgent(Build b, Placement at, String main, List<String> args, List<String> jvmArgs,
            boolean libraryPath, String moreOptions) throws Exception {
        String libPath = at.libDir() + "/" + b.mainFile();
        String agentOptions = "sinks=jsonl,sink.jsonl.path=" + at.jsonl() + ",watch.paths=" + at.libDir() + moreOptions;
        List<String> cmd = new ArrayList<>();
        Map<String, String> env = new LinkedHashMap<>();
        if (libraryPath) {
            // libssl has no RUNPATH: its libcrypto must come from the same build
            env.put("LD_LIBRARY_PATH", at.libDir());
        }
        if (at.root() == null) {
            cmd.add(ChildJvm.JAVA);
            cmd.addAll(ChildJvm.JVM_FLAGS);
            cmd.add("-javaagent:" + ChildJvm.AGENT_JAR.toAbsolutePath() + "=" + agentOptions);
            cmd.add("-Ddemo.await-go=traffic");
            cmd.addAll(jvmArgs);
            cmd.add("-cp");
            cmd.add(ChildJvm.CLASSPATH + ":" + ChildJvm.applicationJna());
        } else {
            cmd.add(at.root().java());
            cmd.addAll(at.root().jvmFlags());
            cmd.add("-javaagent:" + at.root().agentJar() + "=" + agentOptions);
            // the agent's natives, JNA's and wildfly's go to the run directory, deleted afterwards
            cmd.add("-Djava.io.tmpdir=" + at.root().tmpDir());
            cmd.add("-Ddemo.await-go=traffic");
            cmd.addAll(jvmArgs);
            cmd.add("-cp");
            cmd.add(at.root().classpath());
        }
        cmd.add(main);
        cmd.addAll(args);
        String hooked = "INFO  hooked " + b.lib() + " ";
        java.util.function.Predicate<String> ready = l -> l.contains(hooked) && l.contains(" at " + libPath + " ");
        String what = "the agent hooked " + b.lib() + " " + b.version() + " at " + libPath + " ('" + hooked.trim()
                + " ... at " + libPath + "')"
                + (b.lib().equals("gnutls") ? ": the agent does not hook this GnuTLS build (GnuTLS support missing "
                        + "or not working for it?)" : "");
        // the agent says "not hooking <path>: <why>" when it gives up on a library
        java.util.function.Predicate<String> refused = l -> l.contains("not hooking") && l.contains(libPath);
        Child.Result r = at.root() == null
                ? Child.run(cmd, env, TIMEOUT_S, ready, refused, what)
                : at.root().run(cmd, env, TIMEOUT_S, ready, refused, what);
        System.out.println("matrix: " + b + " " + main.substring(main.lastIndexOf('.') + 1) + " on "
                + (at.root() == null ? "host " + ChildJvm.JAVA : at.root()) + ": " + r.millis() + " ms; "
                + r.agentLines().stream().filter(ready).findFirst().orElse("(no hooked line)"));
        assertEquals(0, r.exitCode(), "client failed:\nstdout:\n" + r.stdout() + "\nstderr:\n" + r.stderr());
        return r;
    }

    @ParameterizedTest(name = "socket BIO: {0}")
    @MethodSource("allBuilds")
    void socketBioEventsCarryExactBytesFdAndAddresses(Build b) throws Exception {
        Child.Result r = socketBio(b, "socket", "");
        if (b.lib().equals("gnutls")) {
            // GnuTLS keeps its probes at entry: with gnutls_record_send's moved, GnuTLS 3.8.13's
            // client crashed at exit (SIGSEGV) in two runs out of two
            assertEquals(0, placements(r)[0], summary(r));
        } else {
            // every catalog OpenSSL build has a read or a write function whose probes the decoder moves
            assertTrue(placements(r)[0] > 0, "probes moved to emulated instructions: " + summary(r));
        }
    }

    /**
     * The same exact bytes, fds and addresses with every probe on its function's first
     * instruction: moving probes to emulated instructions changes nothing that is captured.
     */
    @ParameterizedTest(name = "socket BIO, probes at entry: {0}")
    @MethodSource("allBuilds")
    void socketBioSameCaptureWithProbesAtEntry(Build b) throws Exception {
        Child.Result r = socketBio(b, "socket-entry", ",probe.placement=entry");
        assertEquals(0, placements(r)[0], summary(r));
        assertTrue(placements(r)[1] >= 2, summary(r));
    }

    private static String summary(Child.Result r) {
        return r.agentLines().stream().filter(l -> l.contains("capture summary")).findFirst()
                .orElse("no capture summary in:\n" + String.join("\n", r.agentLines()));
    }

    /** {functions probed on emulated instructions, functions probed at entry} from the summary. */
    private static long[] placements(Child.Result r) {
        String s = summary(r);
        java.util.regex.Matcher moved = java.util.regex.Pattern
                .compile("functions probed on emulated instructions=(\\d+)").matcher(s);
        java.util.regex.Matcher entry = java.util.regex.Pattern.compile("functions probed at entry=(\\d+)").matcher(s);
        assertTrue(moved.find() && entry.find(), "placement counters in " + s);
        return new long[] {Long.parseLong(moved.group(1)), Long.parseLong(entry.group(1))};
    }

    private Child.Result socketBio(Build b, String name, String moreOptions) throws Exception {
        String path = "/bytes/100000";
        Placement at = place(b, name);
        boolean gnutls = b.lib().equals("gnutls");
        String libPath = at.libDir() + "/" + b.mainFile();
        String main = gnutls ? "io.btfagent.demo.GnutlsSocketClient" : "io.btfagent.demo.SocketBioClient";
        List<String> args = new ArrayList<>(List.of(HOST, String.valueOf(server.port()), path, libPath));
        if (!gnutls) {
            args.add("plain");
        }
        Child.Result r = runWithAgent(b, at, main, args, List.of(), !gnutls, moreOptions);

        Map<String, String> printed = r.printed();
        assertTrue(printed.getOrDefault("fd-link", "").matches("socket:\\[\\d+\\]"), "a real socket: " + printed);
        assertEquals(HOST + ":" + server.port(), printed.get("remote"));
        assertEquals(WildflyHttpsClient.sha256(TlsEchoServer.responseFor(path)), printed.get("response-sha256"),
                "the client got the whole response");
        List<Event> events = capturedExactly(b, at, r, path, libPath,
                gnutls ? "gnutls_record_send" : "SSL_write", gnutls ? "gnutls_record_recv" : "SSL_read");
        for (Event e : events) {
            assertEquals(Long.parseLong(printed.get("fd")), e.num("fd"), "the socket's fd: " + e.fields());
            assertEquals(printed.get("local"), e.str("local"));
            assertEquals(printed.get("remote"), e.str("remote"));
        }
        return r;
    }

    @ParameterizedTest(name = "memory BIO (wildfly-openssl): {0}")
    @MethodSource("wildflyBuilds")
    void wildflyEventsCarryExactBytesAndNoFd(Build b) throws Exception {
        String path = "/bytes/20000";
        Placement at = place(b, "wildfly");
        String libPath = at.libDir() + "/" + b.mainFile();
        Child.Result r = runWithAgent(b, at, "io.btfagent.demo.WildflyHttpsClient",
                List.of(HOST, String.valueOf(server.port()), path),
                List.of("-Dorg.wildfly.openssl.path=" + at.libDir()), true);

        assertTrue(r.stderr().contains("OpenSSL Version OpenSSL " + b.version() + " "),
                "wildfly-openssl uses this build:\n" + r.stderr());
        assertEquals("openssl", b.lib());
        List<Event> events = capturedExactly(b, at, r, path, libPath, "SSL_write", "SSL_read");
        for (Event e : events) {
            assertEquals(-1, e.num("fd"), "wildfly drives OpenSSL through a memory BIO pair: " + e.fields());
        }
        WildflyCaptureIT.assertClientIdentity(events, r.stdout(), server.port());
    }

    /**
     * The child's events: the exact request as egress and the exact response as ingress, each
     * of this build (library, version, path), through {@code write}/{@code read}, from the child.
     */
    private static List<Event> capturedExactly(Build b, Placement at, Child.Result r, String path, String libPath,
            String write, String read) throws IOException {
        List<Event> events = CapturedEvents.read(at.jsonlOnHost());
        assertFalse(events.isEmpty(), "no events in " + at.jsonlOnHost() + "; agent said:\n"
                + String.join("\n", r.agentLines()));
        assertArrayEquals(WildflyHttpsClient.request(HOST, server.port(), path), CapturedEvents.stream(events, true),
                "egress bytes");
        assertArrayEquals(TlsEchoServer.responseFor(path), CapturedEvents.stream(events, false), "ingress bytes");
        for (Event e : events) {
            assertEquals(b.lib(), e.str("lib"));
            assertEquals(b.version(), e.str("libVersion"));
            assertEquals(libPath, e.str("libPath"));
            assertEquals(e.egress() ? write : read, e.str("func"));
            assertEquals(r.pid(), e.num("pid"));
        }
        return events;
    }
}
