package io.btfagent.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.btfagent.demo.TlsEchoServer;
import io.btfagent.demo.WildflyHttpsClient;
import io.btfagent.it.CapturedEvents.Event;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/**
 * A BTF not made for the exact build is used only under a check of what it reads: a build of
 * a covered version line is captured exactly; a BTF of another layout is refused and no event
 * ever carries what it would have read.
 */
@Privileged
class BtfSelectionIT extends AgainstEchoServer {
    private static final String CLIENT = "io.btfagent.demo.SocketBioClient";
    private static final String CHECKED = "not made for this build: every record is checked";
    private static final String REFUSED = "does not describe this build";

    @Test
    void anUnknownBuildOfACoveredVersionLineIsCapturedExactlyUnderChecks() throws Exception {
        Path dir = tmp.resolve("unknown-build");
        Path libssl = Libraries.unknownBuild(dir, null);
        Path jsonl = tmp.resolve("events.jsonl");
        String path = "/bytes/20000";
        ChildJvm.Result r = new ChildJvm().classpath(ChildJvm.classpathWithApplicationJna())
                .agent("watch.paths=" + dir + ",sinks=jsonl,sink.jsonl.path=" + jsonl)
                .runWhenReady(CLIENT, List.of(HOST, String.valueOf(server.port()), path, libssl.toString()), 120,
                        "traffic", List.of(CHECKED));
        assertEquals(0, r.exitCode(), r.stderr());
        String hooked = r.agentLines().stream().filter(l -> l.contains(CHECKED)).findFirst().orElseThrow();
        assertTrue(hooked.contains(libssl.toString()) && hooked.contains(Libraries.buildId(libssl))
                && hooked.contains("same") == false, hooked);
        assertFalse(r.stderr().contains(REFUSED), r.stderr());

        Map<String, String> printed = r.printed();
        List<Event> events = CapturedEvents.read(jsonl);
        assertArrayEquals(WildflyHttpsClient.request(HOST, server.port(), path), CapturedEvents.stream(events, true));
        assertArrayEquals(TlsEchoServer.responseFor(path), CapturedEvents.stream(events, false));
        for (Event e : events) {
            assertEquals(libssl.toString(), e.str("libPath"));
            assertEquals(Long.parseLong(printed.get("fd")), e.num("fd"));
            assertEquals(printed.get("local"), e.str("local"));
            assertEquals(printed.get("remote"), e.str("remote"));
        }
    }

    @Test
    void aBtfOfAnotherLayoutInBtfPathIsRefusedAndNoEventCarriesAWrongFd() throws Exception {
        // OpenSSL 1.1.1w's BTF offered as the BTF of the system's 3.0 build: libbpf accepts it
        // (the names exist), but bio_st is laid out differently.
        Path catalog = Path.of(System.getProperty("btf.agent.catalog", "../native-targets/catalog"));
        Path old;
        try (var files = Files.list(catalog.resolve("openssl"))) {
            old = files.filter(f -> f.getFileName().toString().startsWith("1.1.1")).findFirst()
                    .orElseThrow(() -> new AssertionError("the catalog has an OpenSSL 1.1.1 BTF"));
        }
        Path btfDir = Files.createDirectories(tmp.resolve("btf"));
        Files.copy(old, btfDir.resolve(Libraries.buildId(Libraries.LIBSSL) + ".btf"));
        Path jsonl = tmp.resolve("events.jsonl");
        ChildJvm.Result r = new ChildJvm().classpath(ChildJvm.classpathWithApplicationJna())
                .agent("btf.path=" + btfDir + ",sinks=jsonl,sink.jsonl.path=" + jsonl)
                .runWhenReady(CLIENT, List.of(HOST, String.valueOf(server.port()), "/", Libraries.LIBSSL.toString()),
                        120, "traffic", List.of(CHECKED));
        assertEquals(0, r.exitCode(), "the application is unaffected: " + r.stderr());
        String refused = r.agentLines().stream().filter(l -> l.contains(REFUSED)).findFirst()
                .orElseThrow(() -> new AssertionError("no refusal:\n" + r.stderr()));
        assertTrue(refused.contains(btfDir.toString()) && refused.contains("btf.path"), refused);
        long realFd = Long.parseLong(r.printed().get("fd"));
        List<Event> events = CapturedEvents.read(jsonl);
        for (Event e : events) {
            assertEquals(realFd, e.num("fd"), "no event carries a wrong fd");
        }
        assertEquals(0, events.size(), "the first record already failed the check");
        assertTrue(AgentStats.of(r).counter("records_refused") > 0, r.stderr());
    }
}
