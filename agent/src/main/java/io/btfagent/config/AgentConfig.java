package io.btfagent.config;

import java.io.IOException;
import java.io.Reader;
import java.nio.charset.CharacterCodingException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
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

    /** The defaults {@link #values()} shows: those of the declared keys that are listed. */
    private static final Map<String, String> DEFAULTS = listedDefaults();

    /** Most unknown keys reported one by one; the rest are counted in one more line. */
    static final int MAX_UNKNOWN_REPORTED = 20;

    private static Map<String, String> listedDefaults() {
        Map<String, String> m = new LinkedHashMap<>();
        for (ConfigKey k : ConfigKeys.all().values()) {
            if (k.listed() && k.defaultValue() != null) {
                m.put(k.name(), k.defaultValue());
            }
        }
        return Collections.unmodifiableMap(m);
    }

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
        for (String known : ConfigKeys.all().keySet()) {
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

    /** The most a config file may hold: its keys fit in a few kilobytes. */
    static final long CONFIG_FILE_BOUND = 1L << 20;

    private static Map<String, String> readFile(Path file, List<String> problems) {
        Properties props = new Properties();
        try {
            // bounded, and refused when a FIFO or a device: reading it must not stall or fill the JVM
            byte[] bytes = io.btfagent.files.BoundedFile.read(file, CONFIG_FILE_BOUND, "config file");
            props.load(new java.io.StringReader(StandardCharsets.UTF_8.newDecoder()
                    .decode(java.nio.ByteBuffer.wrap(bytes)).toString()));
        } catch (CharacterCodingException e) {
            problems.add("cannot read config file " + file + " (" + describe(e) + "): it is not UTF-8 text; using "
                    + "defaults and inline options; save it as UTF-8 (e.g. iconv -f latin1 -t utf-8)");
            return Map.of();
        } catch (IOException | IllegalArgumentException e) {
            if (e.getMessage() != null && e.getMessage().startsWith("config file " + file + " ")) {
                problems.add(e.getMessage() + "; using defaults and inline options; name a regular file of at most "
                        + CONFIG_FILE_BOUND + " bytes");
                return Map.of();
            }
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

    /**
     * Whether to capture: {@code enabled=true} or unset. Any value but {@code true} or
     * {@code false} turns capture off too (a kill switch must not fail open); see
     * {@link #enabledProblem()}.
     */
    public boolean enabled() {
        String v = values.get("enabled");
        return v == null || v.equalsIgnoreCase("true");
    }

    /** Why {@code enabled} was not understood (capture is then off), in one line. */
    public Optional<String> enabledProblem() {
        String v = values.get("enabled");
        if (v == null || v.equalsIgnoreCase("true") || v.equalsIgnoreCase("false")) {
            return Optional.empty();
        }
        return Optional.of("enabled=" + v + " is not one of true, false; capture is off (fail safe); write "
                + "enabled=true to capture or enabled=false to say so");
    }

    /**
     * A WORD setting: its value if it is one of the declared words (compared without case),
     * else the key's fallback, with a problem naming the value and the valid ones.
     */
    public String word(String key) {
        ConfigKey k = declared(key, ConfigKey.Type.WORD);
        String v = values.get(key);
        if (v == null) {
            return k.defaultValue();
        }
        String w = v.trim().toLowerCase(Locale.ROOT);
        if (k.allowed().contains(w)) {
            return w;
        }
        String fallback = k.invalidFallback() != null ? k.invalidFallback() : k.defaultValue();
        report(key + "=" + v + " is not one of " + String.join(", ", k.allowed()) + "; using " + fallback
                + (k.invalidFallback() != null ? " (the safe choice)" : ""));
        return fallback;
    }

    private static ConfigKey declared(String key, ConfigKey.Type type) {
        ConfigKey k = ConfigKeys.find(key).orElseThrow(() -> new IllegalArgumentException("undeclared setting: " + key));
        if (k.type() != type) {
            throw new IllegalArgumentException(key + " is a " + k.type() + " setting, not " + type);
        }
        return k;
    }

    /** Adds one problem line (once), e.g. from a sink checking its own {@code sink.<name>.*} keys. */
    public void report(String problem) {
        synchronized (problems) {
            if (!problems.contains(problem)) {
                problems.add(problem);
            }
        }
    }

    /** Comma-separated list value, trimmed, empty entries dropped. */
    public List<String> list(String key) {
        String v = values.get(key);
        if (v == null && ConfigKeys.all().containsKey(key)) {
            v = ConfigKeys.all().get(key).defaultValue(); // an unlisted key's default applies where it is read
        }
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
        long fallback = Long.parseLong(ConfigKeys.find(key).map(ConfigKey::defaultValue).orElse(DEFAULTS.get(key)));
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
        report(key + "=" + v + " is not a number in [" + min + ", " + max + "]; using " + fallback);
        return fallback;
    }

    /**
     * Checks every setting against its declaration, so that each problem is among
     * {@link #problems()} before those are logged: bad numbers and words, unknown keys (with the
     * nearest known one), list entries that are not valid. Keys of one sink
     * ({@code sink.<name>.*}) are left to that sink and to {@link #unknownSinkKeys}.
     */
    public void validate() {
        List<String> unknown = new ArrayList<>();
        for (Map.Entry<String, String> e : values.entrySet()) {
            String key = e.getKey();
            Optional<ConfigKey> k = ConfigKeys.find(key);
            if (k.isEmpty()) {
                if (ConfigKeys.sinkOf(key).isEmpty() && !ConfigKeys.INTERNAL.contains(key)) {
                    unknown.add(key);
                }
                continue;
            }
            switch (k.get().type()) {
                case NUMBER -> longValue(key);
                case WORD -> word(key);
                case WORDS -> checkWords(k.get(), e.getValue());
                case BOOLEAN, TEXT -> {
                    // enabled is checked before anything starts (enabledProblem); text is free
                }
            }
        }
        for (int i = 0; i < unknown.size() && i < MAX_UNKNOWN_REPORTED; i++) {
            String key = unknown.get(i);
            report("unknown setting " + key + "=" + values.get(key) + " is ignored"
                    + nearest(key).map(n -> "; did you mean " + n + "?").orElse("")
                    + " (valid keys: " + String.join(", ", ConfigKeys.all().keySet()) + ")");
        }
        if (unknown.size() > MAX_UNKNOWN_REPORTED) {
            report((unknown.size() - MAX_UNKNOWN_REPORTED) + " more unknown settings are ignored (not listed)");
        }
    }

    private void checkWords(ConfigKey k, String value) {
        List<String> bad = new ArrayList<>();
        for (String w : list(k.name())) {
            if (k.unsupported().containsKey(w)) {
                report(k.name() + "=" + value + ": " + w + " is not supported by this version ("
                        + k.unsupported().get(w) + "); valid: " + String.join(", ", k.allowed())
                        + "; nothing is hooked for " + w);
            } else if (!k.allowed().contains(w)) {
                bad.add(w);
            }
        }
        if (!bad.isEmpty()) {
            report(k.name() + "=" + value + ": " + String.join(", ", bad) + (bad.size() == 1 ? " is" : " are")
                    + " not one of " + String.join(", ", k.allowed()) + "; nothing is hooked for "
                    + (bad.size() == 1 ? "it" : "them"));
        }
    }

    /** The declared key a typo most likely meant: at most two edits away, or one a prefix of the other. */
    static Optional<String> nearest(String key) {
        String best = null;
        int bestDistance = Integer.MAX_VALUE;
        for (String known : ConfigKeys.all().keySet()) {
            int d = editDistance(key, known);
            if (known.startsWith(key) || key.startsWith(known)) {
                d = Math.min(d, 2);
            }
            if (d < bestDistance) {
                best = known;
                bestDistance = d;
            }
        }
        return bestDistance <= 2 ? Optional.of(best) : Optional.empty();
    }

    private static int editDistance(String a, String b) {
        if (Math.abs(a.length() - b.length()) > 3) {
            return Integer.MAX_VALUE;
        }
        int[] prev = new int[b.length() + 1];
        int[] cur = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            prev[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            cur[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
                cur[j] = Math.min(Math.min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + cost);
            }
            int[] t = prev;
            prev = cur;
            cur = t;
        }
        return prev[b.length()];
    }

    /** The {@code sink.<sink>.*} settings given, by their key without that prefix: for the sink to check. */
    public Map<String, String> sinkKeys(String sink) {
        Map<String, String> out = new LinkedHashMap<>();
        String prefix = "sink." + sink + ".";
        values.forEach((k, v) -> {
            if (k.startsWith(prefix)) {
                out.put(k.substring(prefix.length()), v);
            }
        });
        return out;
    }

    /**
     * One line for each {@code sink.<name>.*} setting whose sink does not exist among
     * {@code knownSinks}: a typo in a sink's name would otherwise go unnoticed.
     */
    public List<String> unknownSinkKeys(java.util.Collection<String> knownSinks) {
        List<String> out = new ArrayList<>();
        for (String key : values.keySet()) {
            ConfigKeys.sinkOf(key).filter(s -> !knownSinks.contains(s)).ifPresent(s -> out.add("setting " + key
                    + " is ignored: there is no sink named " + s + " (known sinks: " + String.join(", ", knownSinks)
                    + ")"));
        }
        return out;
    }

    /**
     * A NUMBER setting within its declared range. Above the range, a capped key takes its cap
     * (the most it can be); otherwise a bad value takes the default. Either is one problem line.
     */
    public long longValue(String key) {
        ConfigKey k = declared(key, ConfigKey.Type.NUMBER);
        if (k.aboveMax()) {
            String v = values.get(key);
            try {
                if (v != null && Long.parseLong(v.replace("_", "")) > k.max()) {
                    report(key + "=" + v + " is above its cap " + k.max() + "; using " + k.max());
                    return k.max();
                }
            } catch (NumberFormatException ignored) {
                // reported below
            }
        }
        return longValue(key, k.min(), k.max());
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
