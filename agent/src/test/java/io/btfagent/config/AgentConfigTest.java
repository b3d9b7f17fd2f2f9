package io.btfagent.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AgentConfigTest {
    @TempDir
    Path dir;

    private Path propertiesFile(String text) throws IOException {
        Path f = dir.resolve("agent.properties");
        Files.writeString(f, text, StandardCharsets.UTF_8);
        return f;
    }

    private static Properties props(String... keyValues) {
        Properties p = new Properties();
        for (int i = 0; i < keyValues.length; i += 2) {
            p.setProperty(keyValues[i], keyValues[i + 1]);
        }
        return p;
    }

    @Test
    void defaultsApplyWhenNothingIsGiven() {
        AgentConfig c = AgentConfig.resolve(null, new Properties(), Map.of());
        assertEquals(Map.ofEntries(
                Map.entry("enabled", "true"),
                Map.entry("sinks", "log"),
                Map.entry("sink.jsonl.path", "btf-agent-events.jsonl"),
                Map.entry("capture.max-bytes", "65536"),
                Map.entry("ring.bytes", "8388608"),
                Map.entry("sink.queue.capacity", "8192"),
                Map.entry("sink.queue.bytes", "16777216"),
                Map.entry("scan.interval-ms", "1000"),
                Map.entry("kernel.btf", "/sys/kernel/btf/vmlinux"),
                Map.entry("log.level", "info"),
                Map.entry("identity", "true")), c.values());
        assertEquals(List.of(), c.problems());
        assertTrue(c.enabled());
        assertEquals(List.of("log"), c.list("sinks"));
        assertEquals(65536, c.longValue("capture.max-bytes", 1, 1 << 30));
    }

    @Test
    void eachSourceOverridesTheOnesBelowIt() throws IOException {
        // Each key is set by the file and by every source up to one level: that level must win.
        Path file = propertiesFile(String.join("\n",
                "log.level=from-file",
                "sinks=from-file",
                "sink.jsonl.path=from-file",
                "btf.path=from-file",
                "capture.max-bytes=1111",
                ""));
        Map<String, String> env = Map.of(
                "BTF_AGENT_CONFIG", file.toString(),
                "BTF_AGENT_SINKS", "from-env",
                "BTF_AGENT_SINK_JSONL_PATH", "from-env",
                "BTF_AGENT_BTF_PATH", "from-env",
                "BTF_AGENT_CAPTURE_MAX_BYTES", "2222");
        Properties sys = props(
                "btf.agent.sink.jsonl.path", "from-sysprop",
                "btf.agent.btf.path", "from-sysprop",
                "btf.agent.capture.max-bytes", "3333",
                "unrelated.property", "ignored");
        String inline = "btf.path=from-inline,capture.max-bytes=4444";

        AgentConfig c = AgentConfig.resolve(inline, sys, env);

        assertEquals("from-file", c.get("log.level"));
        assertEquals("from-env", c.get("sinks"));
        assertEquals("from-sysprop", c.get("sink.jsonl.path"));
        assertEquals("from-inline", c.get("btf.path"));
        assertEquals("4444", c.get("capture.max-bytes"));
        assertEquals(4444, c.longValue("capture.max-bytes", 1, 1 << 30));
        assertEquals("8192", c.get("sink.queue.capacity"), "untouched keys keep their defaults");
        assertNull(c.get("config"), "the file's name is not itself a setting");
        assertNull(c.get("unrelated.property"));
        assertEquals(List.of(), c.problems());
    }

    @Test
    void fileBeatsDefaults() throws IOException {
        Path file = propertiesFile("sinks=jsonl\nbtf.agent.log.level=debug\n");
        AgentConfig c = AgentConfig.resolve("config=" + file, new Properties(), Map.of());
        assertEquals("jsonl", c.get("sinks"));
        assertEquals("debug", c.get("log.level"), "the btf.agent. prefix is optional in a file");
        assertEquals(List.of(), c.problems());
    }

    @Test
    void configFileIsFoundThroughInlineThenSystemPropertyThenEnv() throws IOException {
        Path inlineFile = dir.resolve("inline.properties");
        Path sysFile = dir.resolve("sys.properties");
        Path envFile = dir.resolve("env.properties");
        Files.writeString(inlineFile, "sinks=inline-file\n");
        Files.writeString(sysFile, "sinks=sys-file\n");
        Files.writeString(envFile, "sinks=env-file\n");
        Properties sys = props("btf.agent.config", sysFile.toString());
        Map<String, String> env = Map.of("BTF_AGENT_CONFIG", envFile.toString());

        assertEquals("inline-file", AgentConfig.resolve("config=" + inlineFile, sys, env).get("sinks"));
        assertEquals("sys-file", AgentConfig.resolve(null, sys, env).get("sinks"));
        assertEquals("env-file", AgentConfig.resolve(null, new Properties(), env).get("sinks"));
    }

    @Test
    void envNamesMapBackToDottedAndDashedKeys() {
        AgentConfig c = AgentConfig.resolve(null, new Properties(), Map.of(
                "BTF_AGENT_CAPTURE_MAX_BYTES", " 777 ",
                "BTF_AGENT_SINK_JSONL_PATH", "/tmp/events.jsonl",
                "BTF_AGENT_SCAN_INTERVAL_MS", "250",
                "BTF_AGENT_LIBBPF_PATH", "/opt/libbpf.so.1",
                "OTHER_CAPTURE_MAX_BYTES", "5"));
        assertEquals("777", c.get("capture.max-bytes"));
        assertEquals("/tmp/events.jsonl", c.get("sink.jsonl.path"));
        assertEquals("250", c.get("scan.interval-ms"));
        assertEquals("/opt/libbpf.so.1", c.get("libbpf.path"), "unknown keys become lower case with dots");
        assertNull(c.get("capture.max.bytes"));
        assertNull(c.get("other.capture.max.bytes"));
    }

    @Test
    void inlinePartWithoutEqualsContinuesThePreviousList() {
        AgentConfig c = AgentConfig.resolve("sinks=log,jsonl,capture.max-bytes=10", new Properties(), Map.of());
        assertEquals("log,jsonl", c.get("sinks"));
        assertEquals(List.of("log", "jsonl"), c.list("sinks"));
        assertEquals("10", c.get("capture.max-bytes"));
        assertEquals(List.of(), c.problems());
    }

    @Test
    void inlineKeysMayCarryThePrefixAndAreTrimmed() {
        AgentConfig c = AgentConfig.resolve(" btf.agent.log.level = debug ,, sinks= LOG , JsonL ", new Properties(),
                Map.of());
        assertEquals("debug", c.get("log.level"));
        assertEquals("LOG,JsonL", c.get("sinks"));
        assertEquals(List.of("log", "jsonl"), c.list("sinks"), "list values are trimmed and lower-cased");
        assertEquals(List.of(), c.problems());
    }

    @Test
    void inlinePartWithoutKeyIsAProblemNotAnError() {
        AgentConfig c = AgentConfig.resolve("verbose,=x,sinks=jsonl", new Properties(), Map.of());
        assertEquals("jsonl", c.get("sinks"));
        assertEquals(List.of(
                "ignored agent option 'verbose': expected key=value "
                        + "(e.g. -javaagent:btf-agent.jar=config=/etc/btf-agent.properties)",
                "ignored agent option '=x': expected key=value "
                        + "(e.g. -javaagent:btf-agent.jar=config=/etc/btf-agent.properties)"),
                c.problems());
    }

    @Test
    void unreadableConfigFileIsOneProblemAndDefaultsStay() {
        Path missing = dir.resolve("no-such.properties");
        AgentConfig c = AgentConfig.resolve("config=" + missing + ",log.level=debug", new Properties(), Map.of());

        List<String> problems = c.problems();
        assertEquals(1, problems.size(), problems.toString());
        assertTrue(problems.get(0).startsWith("cannot read config file " + missing + " ("), problems.get(0));
        assertTrue(problems.get(0).contains("NoSuchFileException"), problems.get(0));
        assertEquals("log", c.get("sinks"));
        assertEquals("65536", c.get("capture.max-bytes"));
        assertEquals("debug", c.get("log.level"), "inline options still apply");
        assertTrue(c.enabled());
    }

    @Test
    void configPathThatIsADirectoryIsAProblem() {
        AgentConfig c = AgentConfig.resolve("config=" + dir, new Properties(), Map.of());
        assertEquals(1, c.problems().size(), c.problems().toString());
        assertEquals("config file " + dir + " is a directory, not a regular file; using defaults and inline options; "
                + "name a regular file of at most 1048576 bytes", c.problems().get(0));
        assertEquals("log", c.get("sinks"));
    }

    @Test
    void malformedNumberFallsBackToDefaultWithAProblem() throws IOException {
        Path file = propertiesFile("capture.max-bytes=12x\n");
        AgentConfig c = AgentConfig.resolve("config=" + file, new Properties(), Map.of());
        assertEquals(List.of(), c.problems(), "numbers are checked when read");

        assertEquals(65536, c.longValue("capture.max-bytes", 1, 1 << 30));
        assertEquals(List.of("capture.max-bytes=12x is not a number in [1, 1073741824]; using 65536"), c.problems());
    }

    @Test
    void outOfRangeNumberFallsBackToDefaultWithAProblem() {
        AgentConfig c = AgentConfig.resolve("scan.interval-ms=10", new Properties(), Map.of());
        assertEquals(1000, c.longValue("scan.interval-ms", 50, 3_600_000));
        assertEquals(List.of("scan.interval-ms=10 is not a number in [50, 3600000]; using 1000"), c.problems());
    }

    @Test
    void numbersMayUseUnderscores() {
        AgentConfig c = AgentConfig.resolve("ring.bytes=16_777_216", new Properties(), Map.of());
        assertEquals(16_777_216, c.longValue("ring.bytes", 4096, 1L << 30));
        assertEquals(List.of(), c.problems());
    }

    @Test
    void enabledFalseDisablesFromAnySource() {
        assertFalse(AgentConfig.resolve("enabled=false", new Properties(), Map.of()).enabled());
        assertFalse(AgentConfig.resolve("btf.agent.enabled=FALSE", new Properties(), Map.of()).enabled());
        assertFalse(AgentConfig.resolve(null, props("btf.agent.enabled", "false"), Map.of()).enabled());
        assertFalse(AgentConfig.resolve(null, new Properties(), Map.of("BTF_AGENT_ENABLED", "false")).enabled());
        assertTrue(AgentConfig.resolve("enabled=true", props("btf.agent.enabled", "false"), Map.of()).enabled(),
                "inline beats the system property");
        // The kill switch fails safe: a value that is neither true nor false turns capture off, and says so.
        assertFalse(AgentConfig.resolve("enabled=no", new Properties(), Map.of()).enabled(),
                "only the word true (or nothing) enables");
    }

    @Test
    void malformedPropertiesFileEscapeIsAProblem() throws IOException {
        // Properties.load throws IllegalArgumentException on a malformed \\uXXXX escape.
        Path file = propertiesFile("sinks=\\uZZZZ\n");
        AgentConfig c = AgentConfig.resolve("config=" + file, new Properties(), Map.of());
        assertEquals(1, c.problems().size(), c.problems().toString());
        assertTrue(c.problems().get(0).startsWith("cannot read config file " + file + " (IllegalArgumentException"),
                c.problems().get(0));
        assertEquals("log", c.get("sinks"));
    }
}
