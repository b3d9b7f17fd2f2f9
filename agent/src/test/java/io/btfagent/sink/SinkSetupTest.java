package io.btfagent.sink;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.btfagent.config.AgentConfig;
import io.btfagent.event.CaptureEvent;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SinkSetupTest {
    @TempDir
    Path dir;

    private final List<String> problems = new ArrayList<>();

    private static AgentConfig config(String inline) {
        return AgentConfig.resolve(inline, new Properties(), Map.of());
    }

    /** A provider that records the settings it was created with. */
    private static final class Probe implements SinkProvider {
        final List<Map<String, String>> created = new ArrayList<>();

        @Override
        public String name() {
            return "probe";
        }

        @Override
        public List<SinkSetting> settings() {
            return List.of(new SinkSetting("level", "3", "a number"), new SinkSetting("label", null, "free text"));
        }

        @Override
        public Sink create(SinkContext c) {
            Map<String, String> seen = new LinkedHashMap<>();
            seen.put("level", Long.toString(c.longValue("level", 1, 9)));
            seen.put("label", c.get("label"));
            seen.put("given", c.given().toString());
            created.add(seen);
            return (CaptureEvent e) -> { };
        }
    }

    private Map<String, SinkProvider> providers(SinkProvider... extra) {
        Map<String, SinkProvider> m = SinkSetup.providers(SinkSetup.class.getClassLoader(), problems::add);
        for (SinkProvider p : extra) {
            m.put(p.name(), p);
        }
        return m;
    }

    @Test
    void builtInProvidersAreFoundByServiceLoader() {
        assertEquals(List.of("log", "jsonl", "pcapng", "kafka"), List.copyOf(providers().keySet()));
        assertEquals(List.of(), problems);
    }

    @Test
    void eachSinkGetsOnlyItsOwnKeysWithDefaults() {
        Probe probe = new Probe();
        Map<String, Sink> sinks = SinkSetup.start(config("sinks=probe,sink.probe.label=x"), providers(probe),
                problems::add);
        assertEquals(List.of("probe"), List.copyOf(sinks.keySet()));
        assertEquals(List.of(Map.of("level", "3", "label", "x", "given", "{label=x}")), probe.created);
        assertEquals(List.of(), problems);
    }

    @Test
    void unknownSinkIsOneLineAndTheOthersStillRun() {
        Path file = dir.resolve("e.jsonl");
        Map<String, Sink> sinks = SinkSetup.start(config("sinks=jsnol,jsonl,log,sink.jsonl.path=" + file),
                providers(), problems::add);
        assertEquals(List.of("jsonl", "log"), List.copyOf(sinks.keySet()));
        assertEquals(List.of("unknown sink 'jsnol' in sinks=; known sinks: log, jsonl, pcapng, kafka"), problems);
    }

    @Test
    void unknownKeyStopsThatSinkOnlyAndListsTheValidKeys() {
        Path file = dir.resolve("e.jsonl");
        Map<String, Sink> sinks = SinkSetup.start(
                config("sinks=jsonl,log,sink.jsonl.path=" + file + ",sink.jsonl.max-byte=10,sink.log.colour=red"),
                providers(), problems::add);
        assertEquals(List.of(), List.copyOf(sinks.keySet()));
        assertEquals(List.of("sink jsonl not started: unknown key sink.jsonl.max-byte; valid keys: sink.jsonl.hold-ms,"
                + " sink.jsonl.keep, sink.jsonl.max-bytes, sink.jsonl.path",
                "sink log not started: unknown key sink.log.colour; valid keys: none"), problems);
    }

    @Test
    void keysOfNoSinkAreLeftToTheConfigWhichNamesThemOnce() {
        AgentConfig c = config("sinks=log,sink.jsnol.path=x,sink.queue.capacity=100");
        Map<String, SinkProvider> providers = providers();
        SinkSetup.start(c, providers, problems::add);
        assertEquals(List.of(), problems);
        assertEquals(1, c.unknownSinkKeys(providers.keySet()).size());
        assertEquals(true, c.unknownSinkKeys(providers.keySet()).get(0).contains("sink.jsnol.path"));
    }

    @Test
    void badValueIsOneLineNamingKeyValueAndRange() {
        Probe probe = new Probe();
        Map<String, Sink> sinks = SinkSetup.start(config("sinks=probe,log,sink.probe.level=12"), providers(probe),
                problems::add);
        assertEquals(List.of("log"), List.copyOf(sinks.keySet()));
        assertEquals(List.of("sink probe not started: sink.probe.level=12 is not a whole number in [1, 9]"), problems);
    }

    @Test
    void aFileThatCannotBeOpenedIsOneLine() throws Exception {
        Path link = Files.createSymbolicLink(dir.resolve("e.jsonl"), dir.resolve("target"));
        Map<String, Sink> sinks = SinkSetup.start(config("sinks=jsonl,sink.jsonl.path=" + link), providers(),
                problems::add);
        assertEquals(Map.of(), sinks);
        assertEquals(List.of("sink jsonl not started: " + link
                + " is a symbolic link; remove it; captured data is never written through a link"), problems);
    }

    @Test
    void aSinkKeyFromTheEnvironmentFindsItsDashedName() {
        Path file = dir.resolve("env.jsonl");
        AgentConfig c = AgentConfig.resolve("sinks=jsonl", new Properties(), Map.of(
                "BTF_AGENT_SINK_JSONL_PATH", file.toString(), "BTF_AGENT_SINK_JSONL_MAX_BYTES", "1000"));
        Map<String, Sink> sinks = SinkSetup.start(c, providers(), problems::add);
        assertEquals(List.of("jsonl"), List.copyOf(sinks.keySet()));
        assertEquals(List.of(), problems);
        assertEquals(Map.of("path", "x", "max-bytes", "1", "keep", "2"), SinkSetup.fromEnvironmentNames(
                Map.of("path", "x", "max.bytes", "1", "keep", "2"), java.util.Set.of("path", "max-bytes", "keep")));
    }

    @Test
    void aProviderThatThrowsFromItsSettingsDoesNotStopTheOthers() {
        SinkProvider broken = new SinkProvider() {
            @Override
            public String name() {
                return "broken";
            }

            @Override
            public List<SinkSetting> settings() {
                throw new IllegalStateException("no settings today");
            }

            @Override
            public Sink create(SinkContext context) {
                throw new AssertionError("not reached");
            }
        };
        Map<String, Sink> sinks = SinkSetup.start(config("sinks=broken,log"), providers(broken), problems::add);
        assertEquals(List.of("log"), List.copyOf(sinks.keySet()));
        assertEquals(List.of("sink broken not started: its provider cannot list its settings"
                + " (java.lang.IllegalStateException: no settings today)"), problems);
    }
}
