package io.btfagent.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.btfagent.demo.TlsEchoServer;
import io.btfagent.demo.WildflyHttpsClient;
import io.btfagent.it.CapturedEvents.Event;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The capture object's programs for kernels that lack BPF features (kernel.assume-missing makes
 * the agent treat them as missing on this kernel, which has them all): the events are the same
 * as with every feature (exact bytes, fd, one conn numbered 1, each call in 8 KiB records), the
 * agent says in one line what the kernel lacks and how it captures, and without bpf_loop
 * capture.max-bytes above what the bounded loop copies is named.
 */
@Privileged
class KernelFeaturesIT extends AgainstEchoServer {
    private static final String CLIENT = "io.btfagent.demo.SocketBioClient";
    private static final String LIBSSL = ChildJvm.LIBSSL_DIR + "/libssl.so.3";

    @ParameterizedTest
    @ValueSource(strings = {"", "attach-cookie", "bpf-loop", "fetch-atomics", "attach-cookie,bpf-loop,fetch-atomics"})
    void theSameEventsWithAndWithoutEachFeature(String missing) throws Exception {
        String path = "/bytes/100000";
        Path jsonl = tmp.resolve("events.jsonl");
        ChildJvm.Result r = new ChildJvm().classpath(ChildJvm.classpathWithApplicationJna())
                .agent("sinks=jsonl,sink.jsonl.path=" + jsonl + ",capture.max-bytes=1048576")
                .jvmArg("-Dbtf.agent.kernel.assume-missing=" + missing)
                .runWhenReady(CLIENT, List.of(HOST, String.valueOf(server.port()), path, LIBSSL, "plain"), 120,
                        "traffic", List.of(WildflyCaptureIT.READY));
        assertEquals(0, r.exitCode(), r.stderr());
        String agent = String.join("\n", r.agentLines());
        if (missing.isEmpty()) {
            assertFalse(agent.contains(" lacks "), agent);
        } else {
            String line = r.agentLines().stream().filter(l -> l.contains(" lacks ")).findFirst()
                    .orElseThrow(() -> new AssertionError("no line says what the kernel lacks:\n" + agent));
            assertEquals(missing.contains("attach-cookie"), line.contains("bpf_get_attach_cookie (5.15)"), line);
            assertEquals(missing.contains("bpf-loop"), line.contains("bpf_loop (5.17)"), line);
            assertEquals(missing.contains("fetch-atomics"), line.contains("fetching atomics (5.12)"), line);
            assertEquals(missing.contains("attach-cookie"), line.contains("one entry program per function"), line);
            assertEquals(missing.contains("bpf-loop"), agent.contains("capture.max-bytes=1048576 is more than"),
                    agent);
        }
        List<Event> events = CapturedEvents.read(jsonl);
        assertArrayEquals(WildflyHttpsClient.request(HOST, server.port(), path), CapturedEvents.stream(events, true));
        assertArrayEquals(TlsEchoServer.responseFor(path), CapturedEvents.stream(events, false));
        long fd = Long.parseLong(r.printed().get("fd"));
        for (Event e : events) {
            assertEquals(e.egress() ? "SSL_write" : "SSL_read", e.str("func"));
            assertEquals(fd, e.num("fd"));
            assertEquals(1, e.num("conn"), "one TLS object, the first conn: " + e.fields());
            assertTrue(e.data().length <= 8192, "records of at most CAPTURE_CHUNK bytes");
        }
    }

    /**
     * A library that is there but cannot be hooked (a build no BTF describes, on disk only):
     * the start-up line says that, and why, instead of that there was none.
     */
    @org.junit.jupiter.api.Test
    void aLibraryFoundButNotHookedIsNamedInTheStartUpLine() throws Exception {
        Path libs = tmp.resolve("unknown-build");
        Path libssl = Libraries.unknownBuild(libs, "3.9." + WildflyCaptureIT.systemOpensslVersion().substring(4));
        ChildJvm.Result r = new ChildJvm().agent("watch.paths=" + libs + ",libraries=openssl")
                .runWhenReady("io.btfagent.demo.IdleApp", List.of(), 120, "idle", List.of(WildflyCaptureIT.READY));
        assertEquals(0, r.exitCode(), r.stderr());
        String agent = String.join("\n", r.agentLines());
        String line = r.agentLines().stream().filter(l -> l.contains("no TLS library hooked: 1 found, none could be "
                + "hooked (not hooking openssl 3.9.")).findFirst().orElseThrow(() -> new AssertionError(agent));
        assertTrue(line.contains(" WARN ") && line.contains(libssl.getParent().toString()), line);
        assertFalse(agent.contains("no hookable TLS library mapped"), agent);
    }
}
