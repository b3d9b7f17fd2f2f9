package io.btfagent.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Each key is checked against its declaration; each mistake is one line naming key, value and valid ones. */
class TypedConfigTest {
    @TempDir
    Path dir;

    private static AgentConfig inline(String args) {
        return AgentConfig.resolve(args, new Properties(), Map.of());
    }

    private static List<String> problems(String args) {
        AgentConfig c = inline(args);
        c.validate();
        return c.problems();
    }

    @Test
    void theDefaultsAreValid() {
        assertEquals(List.of(), problems(null));
    }

    @Test
    void everyDeclaredDefaultPassesItsOwnCheck() {
        for (ConfigKey k : ConfigKeys.all().values()) {
            if (k.defaultValue() != null) {
                assertEquals(List.of(), problems(k.name() + "=" + k.defaultValue()), k.name());
            }
        }
    }

    @Test
    void enabledTrueOrFalseOnlyAnythingElseIsOffAndSaid() {
        assertTrue(inline(null).enabled());
        assertTrue(inline("enabled=TRUE").enabled());
        assertEquals(Optional.empty(), inline("enabled=false").enabledProblem());
        for (String typo : List.of("flase", "no", "0", "off", "yes", "")) {
            AgentConfig c = inline("enabled=" + typo);
            assertFalse(c.enabled(), typo);
            assertEquals(Optional.of("enabled=" + typo + " is not one of true, false; capture is off (fail safe); "
                    + "write enabled=true to capture or enabled=false to say so"), c.enabledProblem());
        }
    }

    @Test
    void aBtfFallbackTypoTakesTheSafeChoice() {
        AgentConfig c = inline("btf.fallback=nnoe");
        assertEquals("none", c.word("btf.fallback"));
        assertEquals(List.of("btf.fallback=nnoe is not one of version-line, none; using none (the safe choice)"),
                c.problems());
        assertEquals("version-line", inline(null).word("btf.fallback"));
        assertEquals("none", inline("btf.fallback=NONE").word("btf.fallback"));
    }

    @Test
    void aBadAttachModeIsAutoAndSaid() {
        assertEquals(List.of("attach.mode=bogus is not one of auto, single, multi; using auto"),
                problems("attach.mode=bogus"));
        assertEquals("single", inline("attach.mode=single").word("attach.mode"));
    }

    @Test
    void aBadLogLevelIsInfoAndSaid() {
        AgentConfig c = inline("log.level=verbose");
        assertEquals("info", c.word("log.level"));
        assertEquals(List.of("log.level=verbose is not one of error, warn, info, debug, trace; using info"),
                c.problems());
    }

    @Test
    void anUnknownKeyIsOneLineWithTheNearestKnownOne() {
        List<String> p = problems("sink=jsonl");
        assertEquals(1, p.size(), p.toString());
        assertTrue(p.get(0).startsWith("unknown setting sink=jsonl is ignored; did you mean sinks? (valid keys: "
                + "enabled, sinks, sink.jsonl.path, "), p.get(0));
        assertTrue(problems("zzzzzzzz=1").get(0).startsWith("unknown setting zzzzzzzz=1 is ignored (valid keys: "));
    }

    @Test
    void tenThousandUnknownKeysAreTwentyOneLines() {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < 10_000; i++) {
            b.append("junk").append(i).append("=x,");
        }
        List<String> p = problems(b.toString());
        assertEquals(AgentConfig.MAX_UNKNOWN_REPORTED + 1, p.size());
        assertEquals("9980 more unknown settings are ignored (not listed)", p.get(p.size() - 1));
    }

    @Test
    void theAgentsOwnGuardPropertyIsNotAnUnknownKey() {
        AgentConfig c = AgentConfig.resolve(null, props("btf.agent.started", "true"), Map.of());
        c.validate();
        assertEquals(List.of(), c.problems());
    }

    @Test
    void theProjectsOwnEnvironmentVariablesAreNotUnknownKeys() {
        AgentConfig c = AgentConfig.resolve(null, new Properties(), Map.of("BTF_AGENT_REQUIRE_PRIVILEGED", "1",
                "BTF_AGENT_CACHE", "/tmp/c", "BTF_AGENT_DEMO_JSONL", "/tmp/e.jsonl", "BTF_AGENT_SINKZ", "log"));
        c.validate();
        assertEquals(1, c.problems().size(), c.problems().toString());
        assertTrue(c.problems().get(0).startsWith("unknown setting sinkz=log is ignored; did you mean sinks?"),
                c.problems().get(0));
    }

    @Test
    void librariesAreCheckedWordByWord() {
        assertEquals(List.of(), problems("libraries=boringssl"));
        assertEquals(List.of("libraries=opensll,gnutls: opensll is not one of openssl, gnutls, boringssl, jsse; nothing is "
                + "hooked for it"), problems("libraries=opensll,gnutls"));
        assertEquals(List.of(), problems("libraries=openssl,GnuTLS"));
        assertEquals(List.of(), problems("late-loads="));
        assertEquals(List.of("late-loads=java,dlopen: dlopen is not one of java, linker; nothing is hooked for it"),
                problems("late-loads=java,dlopen"));
    }

    @Test
    void aRingAboveTheCapIsTheCap() {
        AgentConfig c = inline("ring.bytes=1073741824");
        assertEquals(1L << 28, c.longValue("ring.bytes"));
        assertEquals(List.of("ring.bytes=1073741824 is above its cap 268435456; using 268435456"), c.problems());
        assertEquals(8388608, inline("ring.bytes=12x").longValue("ring.bytes"), "not a number: the default");
        assertEquals(8388608, inline("ring.bytes=100").longValue("ring.bytes"), "below the minimum: the default");
    }

    @Test
    void statsIntervalDefaultsToAMinuteAndZeroIsOff() {
        assertEquals(60, inline(null).longValue("stats.interval"));
        assertEquals(0, inline("stats.interval=0").longValue("stats.interval"));
        assertEquals(List.of("stats.interval=-1 is not a number in [0, 86400]; using 60"),
                problems("stats.interval=-1"));
    }

    @Test
    void aConfigFileThatIsNotUtf8SaysSo() throws IOException {
        Path f = dir.resolve("latin1.properties");
        Files.write(f, "sinks=log\nsink.jsonl.path=/tmp/caf\u00e9.jsonl\n".getBytes(StandardCharsets.ISO_8859_1));
        List<String> p = inline("config=" + f).problems();
        assertEquals(1, p.size(), p.toString());
        assertTrue(p.get(0).startsWith("cannot read config file " + f + " (MalformedInputException"), p.get(0));
        assertTrue(p.get(0).endsWith("): it is not UTF-8 text; using defaults and inline options; save it as UTF-8 "
                + "(e.g. iconv -f latin1 -t utf-8)"), p.get(0));
    }

    @Test
    void sinkKeysAreLeftToTheirSinkAndThoseOfNoSinkAreSaid() {
        AgentConfig c = inline("sink.kafka.topic=t,sink.kafka.brokers=b,sink.kafak.topic=u,sink.jsonl.path=/x");
        c.validate();
        assertEquals(List.of(), c.problems(), "a sink checks its own keys");
        assertEquals(Map.of("topic", "t", "brokers", "b"), c.sinkKeys("kafka"));
        assertEquals(List.of("setting sink.kafak.topic is ignored: there is no sink named kafak (known sinks: log, "
                + "jsonl, kafka)"), c.unknownSinkKeys(List.of("log", "jsonl", "kafka")));
        c.report("sink kafka: brokers=b is not host:port");
        c.report("sink kafka: brokers=b is not host:port");
        assertEquals(List.of("sink kafka: brokers=b is not host:port"), c.problems(), "said once");
    }

    @Test
    void anUndeclaredOrMistypedReadIsAProgrammingError() {
        assertThrows(IllegalArgumentException.class, () -> inline(null).word("no.such.key"));
        assertThrows(IllegalArgumentException.class, () -> inline(null).word("ring.bytes"));
        assertThrows(IllegalArgumentException.class, () -> inline(null).longValue("log.level"));
    }

    private static Properties props(String... kv) {
        Properties p = new Properties();
        for (int i = 0; i < kv.length; i += 2) {
            p.setProperty(kv[i], kv[i + 1]);
        }
        return p;
    }
}
