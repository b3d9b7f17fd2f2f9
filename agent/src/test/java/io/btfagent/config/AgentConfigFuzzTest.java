package io.btfagent.config;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.btfagent.testing.FuzzBounds;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import org.junit.jupiter.api.AfterAll;

/**
 * The config parser on any inline option string and any config file: it never throws, whatever
 * it is given; each problem is a line among {@link AgentConfig#problems()}. An input is the
 * inline options (UTF-8), a NUL byte, then the file's bytes; the options come after
 * {@code config=<that file>}, so they may name another file. Seeds: {@code AgentConfigFuzzTestInputs}.
 */
class AgentConfigFuzzTest {
    private static final Path FILE;

    static {
        try {
            FILE = Files.createTempFile("btf-agent-fuzz", ".properties");
        } catch (IOException e) {
            throw new IllegalStateException(e);
        }
    }

    @AfterAll
    static void removeFile() throws IOException {
        Files.deleteIfExists(FILE);
    }

    @FuzzTest(maxDuration = "3m")
    void agentConfig(byte[] data) throws Exception {
        int nul = 0;
        while (nul < data.length && data[nul] != 0) {
            nul++;
        }
        String inline = new String(data, 0, nul, StandardCharsets.UTF_8);
        Files.write(FILE, Arrays.copyOfRange(data, Math.min(nul + 1, data.length), data.length));
        FuzzBounds.within("AgentConfig", 64L * data.length + (2 << 20), 5_000, () -> {
            Properties system = new Properties();
            system.setProperty("btf.agent.log.level", "debug");
            AgentConfig c = AgentConfig.resolve("config=" + FILE + "," + inline, system,
                    Map.of("BTF_AGENT_SINKS", "log,jsonl", "BTF_AGENT_CAPTURE_MAX_BYTES", "4096"));
            c.validate();
            c.enabled();
            c.enabledProblem();
            for (String key : ConfigKeys.all().keySet()) {
                c.get(key);
            }
            c.list("sinks");
            c.sinkKeys("jsonl");
            c.unknownSinkKeys(Set.of("log", "jsonl", "pcapng"));
            c.problems();
        });
    }
}
