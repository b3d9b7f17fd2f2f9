package io.btfagent.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.btfagent.config.AgentConfig;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.junit.jupiter.api.Test;

class AgentRuntimeTest {
    private static AgentConfig inline(String args) {
        return AgentConfig.resolve(args, new Properties(), Map.of());
    }

    @Test
    void configuredWatchPathsReplaceTheDefaultsNormalisedAndDeduplicated() {
        assertEquals(List.of(Path.of("/opt/ssl/lib"), Path.of("/srv/lib")),
                AgentRuntime.watchedPaths(inline("watch.paths=/opt/ssl/lib,/opt/ssl/lib/../lib/, ,/srv/lib/")));
    }

    @Test
    void emptyWatchPathsWatchesNothing() {
        assertEquals(List.of(), AgentRuntime.watchedPaths(inline("watch.paths=")));
    }

    @Test
    void defaultsAreTheSystemLibraryDirectoriesAndWildflysPath() {
        List<Path> expected = new ArrayList<>(List.of(Path.of("/usr/lib/x86_64-linux-gnu"), Path.of("/usr/local/lib")));
        String wildfly = System.getProperty("org.wildfly.openssl.path", "");
        if (!wildfly.isBlank() && !expected.contains(Path.of(wildfly.trim()).normalize())) {
            expected.add(Path.of(wildfly.trim()).normalize());
        }
        assertEquals(expected, AgentRuntime.watchedPaths(inline(null)));
    }
}
