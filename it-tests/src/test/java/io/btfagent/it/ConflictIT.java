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
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * An application with its own slf4j, logback (and logback.xml), netty and JNA, each of another
 * version than the agent's, runs once without and once with the agent: everything it prints
 * must be the same byte for byte (apart from the agent's own stderr lines), and the agent must
 * still capture its HTTPS traffic.
 */
@Privileged
class ConflictIT extends AgainstEchoServer {
    static final String APP = "io.btfagent.conflict.ConflictApp";
    private static final String PATH = "/bytes/300";
    private static final String APP_JNA = "jna 5.13.0 getpid equals ProcessHandle pid true";
    private static final String APP_LOGBACK = "logback 1.4.14, classic 1.4.14";
    private static final String APP_JARS = "jars slf4j-api-2.0.7.jar logback-classic-1.4.14.jar logback-core-1.4.14.jar "
            + "jna-5.13.0.jar netty-buffer-4.1.115.Final.jar netty-common-4.1.115.Final.jar";
    /** The agent's own line format, whatever the application's logging configuration says. */
    private static final String AGENT_HOOKED_LINE = "\\[btf-agent] \\d{2}:\\d{2}:\\d{2}\\.\\d{3} "
            + WildflyCaptureIT.HOOKED + " .*";

    /**
     * ConflictApp's class path: it-tests' classes, the directory holding its logback.xml as a
     * class path root, wildfly-openssl and its own libraries (target/conflict-lib); set by
     * Failsafe from it-tests/pom.xml.
     */
    static String classpath() {
        String cp = System.getProperty("conflict.classpath");
        if (cp == null || cp.isBlank()) {
            throw new IllegalStateException("system property conflict.classpath is not set; run through Failsafe "
                    + "(mvn verify), which sets it from it-tests/pom.xml");
        }
        return cp;
    }

    @Test
    void applicationKeepsItsOwnLibrariesAndLogbackXmlAndIsCaptured() throws Exception {
        Runs r = runWithoutAndWithAgent(List.of());

        assertTrue(r.without.stdout().contains("APP INFO ConflictApp - starting with 3 arguments\n"), r.without.stdout());
        assertTrue(r.without.stdout().contains("APP INFO ConflictApp - done\n"), r.without.stdout());
        assertFalse(r.without.stdout().contains("DEBUG"), "the application's logback.xml logs INFO and above");
    }

    @Test
    void agentIgnoresTheApplicationsLogbackConfigurationFile() throws Exception {
        // Next to the application's logback.xml, in the class path root that holds it.
        Path config = Stream.of(classpath().split(":")).map(e -> Path.of(e, "logback-by-property.xml"))
                .filter(Files::isRegularFile).findFirst()
                .orElseThrow(() -> new AssertionError("no logback-by-property.xml in a directory of " + classpath()));
        Runs r = runWithoutAndWithAgent(List.of("-Dlogback.configurationFile=" + config.toAbsolutePath()));

        String out = r.without.stdout();
        assertTrue(out.contains("BY-PROPERTY INFO ConflictApp - starting with 3 arguments\n"), out);
        assertTrue(out.contains("BY-PROPERTY DEBUG ConflictApp - a debug line, printed only where the configuration "
                + "enables DEBUG\n"), out);
        assertFalse(out.lines().anyMatch(l -> l.startsWith("APP ")), "logback.xml was not used: " + out);
    }

    /** Both runs of the application, with the checks every pair must pass. */
    private record Runs(ChildJvm.Result without, ChildJvm.Result with) {
    }

    private Runs runWithoutAndWithAgent(List<String> jvmArgs) throws Exception {
        String cp = classpath();
        List<String> args = List.of(HOST, String.valueOf(server.port()), PATH);

        ChildJvm plain = new ChildJvm().classpath(cp);
        jvmArgs.forEach(plain::jvmArg);
        ChildJvm.Result without = plain.run(APP, args, 120);

        Path jsonl = tmp.resolve("events.jsonl");
        ChildJvm agent = new ChildJvm().classpath(cp).agent("sinks=jsonl,sink.jsonl.path=" + jsonl);
        jvmArgs.forEach(agent::jvmArg);
        ChildJvm.Result with = agent.runWhenReady(APP, args, 120, "traffic", List.of(WildflyCaptureIT.READY));

        assertEquals(0, without.exitCode(), "without the agent:\n" + without.stderr());
        assertEquals(without.exitCode(), with.exitCode(), "with the agent:\n" + with.stderr());
        assertEquals(without.comparableStdout(), with.comparableStdout(), "the application's stdout");
        assertEquals(without.comparableStderr(), with.comparableStderr(),
                "the application's stderr");

        String out = without.stdout();
        assertTrue(out.contains(APP_JNA + "\n"), out);
        assertTrue(out.contains(APP_LOGBACK + "\n"), out);
        assertTrue(out.contains(APP_JARS + "\n"), out);
        assertTrue(out.contains("slf4j factory ch.qos.logback.classic.LoggerContext\n"), out);
        assertTrue(out.contains("slf4j providers [ch.qos.logback.classic.spi.LogbackServiceProvider from "
                + "logback-classic-1.4.14.jar]\n"), out);
        assertTrue(out.contains("logback.xml on the class path 1, logback-test.xml 0\n"), out);
        assertTrue(out.contains("global properties before the application's JNA {"
                + jvmArgs.stream().filter(a -> a.startsWith("-Dlogback.")).map(a -> a.substring(2)).findFirst().orElse("")
                + "}\n"), out);
        assertTrue(out.contains("netty pooled direct buffer readableBytes 33 content "
                + "'pooled by the application's netty'\n"), out);
        assertTrue(out.contains("agent runtime visible to the application false\n"), out);
        int length = TlsEchoServer.responseFor(PATH).length;
        assertTrue(out.contains("https HTTP/1.1 200 OK, " + length + " bytes, as the server sends them true\n"), out);

        assertFalse(with.stdout().contains("[btf-agent]"), "agent output on the application's stdout");
        assertTrue(with.agentLines().stream().anyMatch(l -> l.matches(AGENT_HOOKED_LINE)),
                "the agent logs in its own format on stderr: " + with.agentLines());

        List<Event> events = CapturedEvents.read(jsonl);
        assertArrayEquals(WildflyHttpsClient.request(HOST, server.port(), PATH), CapturedEvents.stream(events, true),
                "captured egress");
        assertArrayEquals(TlsEchoServer.responseFor(PATH), CapturedEvents.stream(events, false), "captured ingress");
        List<Long> pids = new ArrayList<>();
        events.forEach(e -> pids.add(e.num("pid")));
        assertTrue(pids.stream().allMatch(p -> p == with.pid()), "events of another process: " + pids);
        return new Runs(without, with);
    }

    /** Makes the timestamp line java.util.logging prints (wildfly-openssl's init line) comparable. */
}
