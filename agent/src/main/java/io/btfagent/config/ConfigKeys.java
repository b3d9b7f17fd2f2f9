package io.btfagent.config;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Every setting the agent reads, one line each. A key added here is checked, documented by its
 * declaration, and known to the environment-variable mapping; document it in the README's
 * configuration table too.
 *
 * <p>Keys of one sink, {@code sink.<name>.<key>}, need not be declared here: a sink may check
 * its own (see {@link AgentConfig#sinkKeys(String)} and {@link AgentConfig#report(String)}),
 * and those of a sink that does not exist are reported by {@link AgentConfig#unknownSinkKeys}.
 */
public final class ConfigKeys {
    private ConfigKeys() {
    }

    private static final Map<String, ConfigKey> KEYS = declare(
            ConfigKey.bool("enabled", true),
            ConfigKey.text("sinks", "log"),
            ConfigKey.text("sink.jsonl.path", "btf-agent-events.jsonl"),
            ConfigKey.text("extensions", null),
            ConfigKey.word("redact", "http-headers", "http-headers", "none").whenInvalid("http-headers").unlisted(),
            ConfigKey.text("redact.headers", null),
            ConfigKey.text("redact.patterns", null),
            ConfigKey.number("capture.max-bytes", 65536, 1, 1L << 30),
            ConfigKey.cappedNumber("ring.bytes", 8388608, 4096, 1L << 28),
            ConfigKey.number("sink.queue.capacity", 8192, 16, 1 << 24),
            ConfigKey.number("sink.queue.bytes", 16777216, 65536, 1L << 31),
            ConfigKey.number("scan.interval-ms", 1000, 50, 3_600_000),
            ConfigKey.number("stats.interval", 60, 0, 86_400).unlisted(),
            ConfigKey.words("late-loads", "java,linker", "java", "linker").unlisted(),
            ConfigKey.number("late-loads.wait-ms", 200, 0, 10_000).unlisted(),
            ConfigKey.text("kernel.btf", "/sys/kernel/btf/vmlinux"),
            ConfigKey.words("kernel.assume-missing", null, "attach-cookie", "bpf-loop", "fetch-atomics").unlisted(),
            ConfigKey.word("log.level", "info", "error", "warn", "info", "debug", "trace"),
            ConfigKey.words("libraries", null, "openssl", "gnutls", "boringssl"),
            ConfigKey.text("btf.path", null),
            ConfigKey.word("btf.fallback", "version-line", "version-line", "none").whenInvalid("none").unlisted(),
            ConfigKey.word("attach.mode", "auto", "auto", "single", "multi").unlisted(),
            ConfigKey.word("probe.placement", "emulated", "emulated", "entry").unlisted(),
            ConfigKey.text("watch.paths", null),
            ConfigKey.text("native.dir", null),
            ConfigKey.text("libbpf.path", null),
            ConfigKey.bool("identity", true),
            ConfigKey.text("config", null));

    /**
     * Not settings, never reported as unknown: the agent's own double-start guard
     * ({@code btf.agent.started}), and environment variables of the project's build, tests and
     * scripts that share the {@code BTF_AGENT_} prefix (cache, require.privileged, demo.jsonl).
     */
    static final Set<String> INTERNAL = Set.of("started", "cache", "require.privileged", "demo.jsonl");

    private static final Pattern SINK_KEY = Pattern.compile("^sink\\.([a-z0-9_-]+)\\.(.+)$");

    private static Map<String, ConfigKey> declare(ConfigKey... keys) {
        Map<String, ConfigKey> m = new LinkedHashMap<>();
        for (ConfigKey k : keys) {
            if (m.put(k.name(), k) != null) {
                throw new IllegalStateException("config key declared twice: " + k.name());
            }
        }
        return java.util.Collections.unmodifiableMap(m);
    }

    /** Every declared key, in declaration order. */
    public static Map<String, ConfigKey> all() {
        return KEYS;
    }

    public static Optional<ConfigKey> find(String name) {
        return Optional.ofNullable(KEYS.get(name));
    }

    /** The sink a {@code sink.<name>.<key>} key belongs to, unless it is declared here. */
    static Optional<String> sinkOf(String key) {
        if (KEYS.containsKey(key)) {
            return Optional.empty();
        }
        Matcher m = SINK_KEY.matcher(key);
        return m.matches() && !m.group(1).equals("queue") ? Optional.of(m.group(1)) : Optional.empty();
    }
}
