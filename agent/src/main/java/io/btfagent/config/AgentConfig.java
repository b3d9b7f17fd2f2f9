package io.btfagent.config;

import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;

/**
 * The agent's settings, merged from (highest first) the inline {@code -javaagent} options,
 * {@code -Dbtf.agent.<key>} system properties, {@code BTF_AGENT_<KEY>} environment variables,
 * the properties file named by {@code config=}, and the defaults.
 *
 * <p>Building a config never throws: problems (unreadable file, malformed option, bad number)
 * are kept in {@link #problems()} so they can be logged once logging is up, and the affected
 * setting falls back to its default.
 */
public final class AgentConfig {
    public static final String PREFIX = "btf.agent.";
    public static final String ENV_PREFIX = "BTF_AGENT_";

    private static final Map<String, String> DEFAULTS = Map.ofEntries(
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
            Map.entry("identity", "true"));

    private final Map<String, String> values;
    private final List<String> problems;

    private AgentConfig(Map<String, String> values, List<String> problems) {
        this.values = values;
        this.problems = Collections.synchronizedList(new ArrayList<>(problems));
    }

    /** Builds the config of this JVM from the agent argument string. */
    public static AgentConfig fromAgentArgs(String agentArgs) {
        return resolve(agentArgs, System.getProperties(), System.getenv());
    }

    /** Builds a config from explicit sources; the precedence rules in one place. */
    public static AgentConfig resolve(String agentArgs, Properties systemProperties, Map<String, String> env) {
        List<String> problems = new ArrayList<>();
        Map<String, String> inline = parseInline(agentArgs, problems);

        String configFile = firstNonNull(inline.get("config"),
                systemProperties.getProperty(PREFIX + "config"), env.get(ENV_PREFIX + "CONFIG"));

        Map<String, String> merged = new LinkedHashMap<>(DEFAULTS);
        if (configFile != null) {
            merged.putAll(readFile(Path.of(configFile), problems));
        }
        for (Map.Entry<String, String> e : env.entrySet()) {
            if (e.getKey().startsWith(ENV_PREFIX)) {
                merged.put(envKeyToName(e.getKey().substring(ENV_PREFIX.length())), e.getValue().trim());
            }
        }
        for (String name : systemProperties.stringPropertyNames()) {
            if (name.startsWith(PREFIX)) {
                merged.put(name.substring(PREFIX.length()), systemProperties.getProperty(name).trim());
            }
        }
        merged.putAll(inline);
        merged.remove("config");
        return new AgentConfig(Collections.unmodifiableMap(merged), problems);
    }

    /**
     * Env names lose the distinction between {@code .} and {@code -}; map {@code CAPTURE_MAX_BYTES}
     * back to the known key {@code capture.max-bytes}, else lower-case with dots.
     */
    private static String envKeyToName(String envSuffix) {
        String dotted = envSuffix.toLowerCase(Locale.ROOT).replace('_', '.');
        for (String known : DEFAULTS.keySet()) {
            if (known.replace('-', '.').equals(dotted)) {
                return known;
            }
        }
        return dotted;
    }

    private static Map<String, String> parseInline(String agentArgs, List<String> problems) {
        Map<String, String> out = new LinkedHashMap<>();
        if (agentArgs == null || agentArgs.isBlank()) {
            return out;
        }
        String lastKey = null;
        for (String part : agentArgs.split(",")) {
            if (part.isBlank()) {
                continue;
            }
            int eq = part.indexOf('=');
            if (eq < 0 && lastKey != null) {
                // "sinks=log,jsonl": a part without '=' continues the previous list value
                out.put(lastKey, out.get(lastKey) + "," + part.trim());
                continue;
            }
            if (eq <= 0) {
                problems.add("ignored agent option '" + part.trim()
                        + "': expected key=value (e.g. -javaagent:btf-agent.jar=config=/etc/btf-agent.properties)");
                continue;
            }
            String key = part.substring(0, eq).trim();
            if (key.startsWith(PREFIX)) {
                key = key.substring(PREFIX.length());
            }
            out.put(key, part.substring(eq + 1).trim());
            lastKey = key;
        }
        return out;
    }

    private static Map<String, String> readFile(Path file, List<String> problems) {
        Properties props = new Properties();
        try (Reader r = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            props.load(r);
        } catch (IOException | IllegalArgumentException e) {
            problems.add("cannot read config file " + file + " (" + describe(e)
                    + "); using defaults and inline options; fix the path or its permissions");
            return Map.of();
        }
        Map<String, String> out = new LinkedHashMap<>();
        for (String name : props.stringPropertyNames()) {
            String key = name.startsWith(PREFIX) ? name.substring(PREFIX.length()) : name;
            out.put(key, props.getProperty(name).trim());
        }
        return out;
    }

    private static String describe(Exception e) {
        String kind = e.getClass().getSimpleName();
        return e.getMessage() == null ? kind : kind + ": " + e.getMessage();
    }

    private static String firstNonNull(String... candidates) {
        for (String c : candidates) {
            if (c != null && !c.isBlank()) {
                return c.trim();
            }
        }
        return null;
    }

    /** Raw value of a key, or null. */
    public String get(String key) {
        return values.get(key);
    }

    public boolean enabled() {
        return !"false".equalsIgnoreCase(values.get("enabled"));
    }

    /** Comma-separated list value, trimmed, empty entries dropped. */
    public List<String> list(String key) {
        String v = values.get(key);
        List<String> out = new ArrayList<>();
        if (v != null) {
            for (String s : v.split(",")) {
                if (!s.isBlank()) {
                    out.add(s.trim().toLowerCase(Locale.ROOT));
                }
            }
        }
        return out;
    }

    /**
     * An integer setting within [min, max]; a malformed or out-of-range value is recorded as a
     * problem and the default is used.
     */
    public long longValue(String key, long min, long max) {
        String v = values.get(key);
        long fallback = Long.parseLong(DEFAULTS.get(key));
        if (v == null) {
            return fallback;
        }
        try {
            long parsed = Long.parseLong(v.replace("_", ""));
            if (parsed >= min && parsed <= max) {
                return parsed;
            }
        } catch (NumberFormatException ignored) {
            // reported below
        }
        String problem = key + "=" + v + " is not a number in [" + min + ", " + max + "]; using " + fallback;
        synchronized (problems) {
            if (!problems.contains(problem)) {
                problems.add(problem);
            }
        }
        return fallback;
    }

    /** The numeric settings and their ranges, checked by {@link #validate()}. */
    private static final Map<String, long[]> RANGES = Map.of(
            "capture.max-bytes", new long[] {1, 1L << 30},
            "ring.bytes", new long[] {4096, 1L << 28},
            "sink.queue.bytes", new long[] {65536, 1L << 31},
            "sink.queue.capacity", new long[] {16, 1 << 24},
            "scan.interval-ms", new long[] {50, 3_600_000});

    /**
     * Reads every numeric setting once, so that malformed ones are among {@link #problems()}
     * before those are logged.
     */
    public void validate() {
        RANGES.forEach((key, range) -> longValue(key));
    }

    /** A numeric setting within its documented range (see {@link #validate()}). */
    public long longValue(String key) {
        long[] range = RANGES.get(key);
        if (range == null) {
            throw new IllegalArgumentException("not a numeric setting: " + key);
        }
        return longValue(key, range[0], range[1]);
    }

    /** Problems met while reading the config, one line each, to be logged once. */
    public List<String> problems() {
        synchronized (problems) {
            return List.copyOf(problems);
        }
    }

    /** All effective settings, for the start-up log line. */
    public Map<String, String> values() {
        return values;
    }
}
