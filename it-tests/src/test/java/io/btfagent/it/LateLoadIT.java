package io.btfagent.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.btfagent.demo.TlsEchoServer;
import io.btfagent.demo.WildflyHttpsClient;
import io.btfagent.it.CapturedEvents.Event;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * Libraries loaded late from a directory the agent does not watch: the catalog's OpenSSL 1.1.1w
 * (bullseye) build, copied by bin/fetch-catalog-libs.sh. Loaded through JNA, it must be hooked
 * before the load returns, so the very first request is captured; dlopen'ed by native code, the
 * dynamic linker's probe must wake the scan (the periodic one is set to 10 minutes here), and
 * the test prints how long after the mapping the hook was in place.
 */
@Privileged
class LateLoadIT extends AgainstEchoServer {
    private static final String CLIENT = "io.btfagent.demo.SocketBioClient";
    static final Path LIB_DIR = CatalogMatrixIT.LIBS.resolve("openssl-1.1.1w-0+deb11u1");
    private static final Pattern SINCE_LINKER = Pattern.compile("([0-9.]+) ms after the dynamic linker reported it mapped");

    private ChildJvm client(Path jsonl, String agentOptions) {
        return new ChildJvm().classpath(ChildJvm.classpathWithApplicationJna())
                .env("LD_LIBRARY_PATH", LIB_DIR.toString()) // libssl has no RUNPATH: its own libcrypto
                .agent("sinks=jsonl,sink.jsonl.path=" + jsonl + agentOptions);
    }

    private void assertFirstExchangeCaptured(List<Event> events, long pid) {
        assertArrayEquals(WildflyHttpsClient.request(HOST, server.port(), "/"), CapturedEvents.stream(events, true),
                "the first request, made at once after the load");
        assertArrayEquals(TlsEchoServer.responseFor("/"), CapturedEvents.stream(events, false));
        for (Event e : events) {
            assertEquals("openssl", e.str("lib"));
            assertEquals("1.1.1w", e.str("libVersion"));
            assertEquals(LIB_DIR.resolve("libssl.so.1.1").toString(), e.str("libPath"));
            assertEquals(pid, e.num("pid"));
        }
    }

    /**
     * JNA's Native.load 2 s after start (or, on a machine so busy that the agent is not up by
     * then, as soon as it is), then at once the handshake and one request.
     */
    @Test
    void libraryLoadedThroughJnaIsHookedBeforeTheLoadReturns() throws Exception {
        Path jsonl = tmp.resolve("events.jsonl");
        ChildJvm.Result r;
        // The bound an application gets by default is 200 ms. This test is about the hook coming
        // before the load returns, not about how busy the machine is, so it allows 2 s; the load's
        // wait is printed ("rescanned in", debug level) for the figure in docs/how-it-works.md.
        try (ChildJvm.Running app = client(jsonl, ",watch.paths=,late-loads.wait-ms=2000,log.level=debug")
                .jvmArg("-Ddemo.load-delay-ms=2000")
                .jvmArg("-Ddemo.await-go=load")
                .start(CLIENT, List.of(HOST, String.valueOf(server.port()), "/",
                        LIB_DIR.resolve("libssl.so.1.1").toString()))) {
            app.awaitStderr(WildflyCaptureIT.WATCHING, 60);
            app.send();
            r = app.finish(60);
        }
        r.agentLines().forEach(System.out::println);
        System.out.println("Native.load took " + r.printed().get("load-ms") + " ms (the agent's hook included)");
        assertEquals(0, r.exitCode(), "client failed:\n" + r.stderr());
        assertFirstExchangeCaptured(CapturedEvents.read(jsonl), r.pid());
    }

    /** dlopen from native code: only the dynamic linker's probe can wake the scan in time. */
    @Test
    void libraryDlopenedByNativeCodeIsHookedThroughTheLinkerProbe() throws Exception {
        Path jsonl = tmp.resolve("events.jsonl");
        ChildJvm.Result r;
        String hooked;
        try (ChildJvm.Running app = client(jsonl, ",watch.paths=,scan.interval-ms=600000,late-loads=linker")
                .jvmArg("-Ddemo.dlopen-first=true").jvmArg("-Ddemo.await-go=load")
                .start(CLIENT, List.of(HOST, String.valueOf(server.port()), "/",
                        LIB_DIR.resolve("libssl.so.1.1").toString()))) {
            app.awaitStderr(WildflyCaptureIT.WATCHING, 60); // the agent is up, its first scan done
            app.send();
            app.awaitPrinted("dlopened", 60);
            app.awaitStderr("hooked openssl 1.1.1w", 60);
            app.send();
            r = app.finish(60);
        }
        r.agentLines().forEach(System.out::println);
        assertEquals(0, r.exitCode(), "client failed:\n" + r.stderr());
        hooked = r.agentLines().stream().filter(l -> l.contains("hooked openssl 1.1.1w")).findFirst().orElseThrow();
        Matcher m = SINCE_LINKER.matcher(hooked);
        assertTrue(m.find(), "the hook was woken by the dynamic linker's probe: " + hooked);
        System.out.println("late-load window (dlopen from native code): hooked " + m.group(1)
                + " ms after the dynamic linker reported the library mapped");
        assertFirstExchangeCaptured(CapturedEvents.read(jsonl), r.pid());
    }
}
