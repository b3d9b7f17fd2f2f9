package io.btfagent.config;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Every setting the agent reads, one declaration each. A key added here is checked, known to the
 * environment-variable mapping, and documented by its {@code describe(...)}: docs/configuration.md
 * is generated from these declarations ({@link ConfigReference}; a test fails when they differ).
 *
 * <p>Keys of one sink, {@code sink.<name>.<key>}, need not be declared here: a sink may check
 * its own (see {@link AgentConfig#sinkKeys(String)} and {@link AgentConfig#report(String)}),
 * and those of a sink that does not exist are reported by {@link AgentConfig#unknownSinkKeys}.
 */
public final class ConfigKeys {
    private ConfigKeys() {
    }

    private static final Map<String, ConfigKey> KEYS = declare(
            ConfigKey.bool("enabled", true)
                    .describe("`false` makes the agent a no-op; so does any value but `true`, with a warning"),
            ConfigKey.text("sinks", "log")
                    .describe("comma list of sinks: `log`, `jsonl`, `pcapng`, `kafka`, and those of `extensions` "
                            + "(see [sinks](sinks.md)); empty: none (events are counted, and shown to a `watch`)"),
            ConfigKey.text("sink.jsonl.path", "btf-agent-events.jsonl")
                    .describe("the jsonl sink's file (see [sinks](sinks.md) for every `sink.<name>.<key>`)"),
            ConfigKey.text("extensions", null)
                    .describe("comma list of jars with more sinks (see [writing a sink](sinks.md#writing-a-sink))"),
            ConfigKey.word("redact", "http-headers", "http-headers", "none").whenInvalid("http-headers").unlisted()
                    .describe("`http-headers`: mask credentials (HTTP/1 header lines, HTTP/2 header blocks) before "
                            + "any sink (see [redaction](redaction.md)); `none`: off; any other value keeps "
                            + "masking on, with a warning"),
            ConfigKey.text("redact.headers", null)
                    .describe("more HTTP header names whose values are masked"),
            ConfigKey.text("redact.patterns", null)
                    .describe("regular expressions whose matches (group 1 if there is one) are masked, separated "
                            + "by `;;`"),
            ConfigKey.number("capture.max-bytes", 65536, 1, 1L << 30)
                    .describe("most plaintext bytes kept per call; the rest is counted and the event says `truncated`"),
            ConfigKey.cappedNumber("ring.bytes", 8388608, 4096, 1L << 28)
                    .describe("size of the BPF ring buffer every hooked library writes to (rounded up to a power "
                            + "of two; a larger value is taken as the cap, 256 MiB); kernel memory, charged to the "
                            + "JVM's memory cgroup and resident in the JVM once; smaller containers: "
                            + "[Memory limits](containers.md#memory-limits)"),
            ConfigKey.number("sink.queue.capacity", 8192, 16, 1 << 24)
                    .describe("events queued per sink before that sink drops (and counts)"),
            ConfigKey.number("sink.queue.bytes", 16777216, 65536, 1L << 31)
                    .describe("captured bytes queued per sink (plus 256 per event) before that sink drops (and "
                            + "counts): what a stalled sink can hold of the application's heap (its buffer grows "
                            + "to this only while the sink falls behind)"),
            ConfigKey.number("scan.interval-ms", 1000, 50, 3_600_000)
                    .describe("how often `/proc/self/maps` is re-read for libraries loaded later"),
            ConfigKey.number("stats.interval", 60, 0, 86_400).unlisted()
                    .describe("seconds between `capture stats {…}` JSON lines in the log (one is also written at "
                            + "exit); `0`: only at exit"),
            ConfigKey.words("late-loads", "java,linker", "java", "linker").unlisted()
                    .describe("how libraries loaded after start are hooked before their first calls: `java` "
                            + "instruments the JDK's and JNA's library loading (the load waits, at most "
                            + "`late-loads.wait-ms`, for the hook), `linker` probes the dynamic linker so a "
                            + "`dlopen` from native code wakes the scan at once; empty: the periodic scan only"),
            ConfigKey.number("late-loads.wait-ms", 200, 0, 10_000).unlisted()
                    .describe("the longest a Java load of a library waits for its hook; past it the load returns, "
                            + "one line says so, and the hook completes later"),
            ConfigKey.text("kernel.btf", "/sys/kernel/btf/vmlinux")
                    .describe("the kernel BTF to merge with"),
            ConfigKey.words("kernel.assume-missing", null, "attach-cookie", "bpf-loop", "fetch-atomics").unlisted()
                    .describe("for tests: treat these kernel features as missing and use what replaces them "
                            + "(per-function programs, a bounded copy loop, conn ids by map insert), as on older "
                            + "kernels ([how it works](how-it-works.md))"),
            ConfigKey.word("log.level", "info", "error", "warn", "info", "debug", "trace")
                    .describe("the agent's own log level"),
            ConfigKey.words("libraries", null, "openssl", "gnutls", "boringssl", "jsse")
                    .describe("which library families to hook: `openssl`, `gnutls`, `boringssl` "
                            + "(netty-tcnative-boringssl-static and its shaded copies), `jsse` (the JVM's own TLS: "
                            + "the JDK's, Conscrypt, BouncyCastle JSSE)",
                            "all found"),
            ConfigKey.text("btf.path", null)
                    .describe("directory of user BTF files named `<build-id>.btf`, searched before the bundled "
                            + "catalog"),
            ConfigKey.word("btf.fallback", "version-line", "version-line", "none").whenInvalid("none").unlisted()
                    .describe("`version-line`: an OpenSSL build not in the catalog gets the BTF of the nearest "
                            + "catalog build of its version line (e.g. 3.0), used only under a per-record check "
                            + "([how it works](how-it-works.md)); `none`: such a build is not hooked (also what a "
                            + "misspelt value means)"),
            ConfigKey.word("attach.mode", "auto", "auto", "single", "multi").unlisted()
                    .describe("`auto`: one uprobe_multi link per program and library where the kernel has them, "
                            + "else single uprobes; `multi` or `single` to force one"),
            ConfigKey.word("probe.placement", "emulated", "emulated", "entry").unlisted()
                    .describe("`emulated`: each function's probes go on instructions the kernel emulates where its "
                            + "machine code proves that safe, else on its first instruction; `entry`: always on "
                            + "the first instruction, as any uprobe tool does"),
            ConfigKey.text("watch.paths", null)
                    .describe("directories (or files) whose TLS libraries (libssl, libgnutls) are hooked before "
                            + "the application loads them; setting it replaces the defaults",
                            "`/usr/lib/x86_64-linux-gnu`, `/usr/local/lib`, and `-Dorg.wildfly.openssl.path`"),
            ConfigKey.text("native.dir", null)
                    .describe("where the agent writes its native libraries (owner-only, content-hashed names); "
                            + "must allow executables", "`${java.io.tmpdir}/btf-agent-<uid>`"),
            ConfigKey.text("libbpf.path", null)
                    .describe("use this libbpf instead of the bundled one", "the bundled libbpf"),
            ConfigKey.bool("identity", true)
                    .describe("`false`: do not weave the JVM's TLS stacks; events then have `conn` but no `role`, "
                            + "no JVM-side addresses and OS thread names"),
            ConfigKey.text("config", null)
                    .describe("a properties file with any of these keys (without the `btf.agent.` prefix)"));

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
