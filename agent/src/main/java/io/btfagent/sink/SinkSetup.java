package io.btfagent.sink;

import io.btfagent.config.AgentConfig;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.ServiceConfigurationError;
import java.util.ServiceLoader;
import java.util.Set;
import java.util.TreeSet;
import java.util.function.Consumer;

/**
 * Finds the sink providers, checks each selected sink's {@code sink.<name>.*} keys against
 * what its provider declares, and starts the sinks {@code sinks=} names. Every problem is one line; a sink with a problem does
 * not start and the others do.
 */
public final class SinkSetup {
    /** {@code sink.queue.*} belongs to the dispatcher, not to a sink named "queue". */
    private static final Set<String> DISPATCHER_KEYS = Set.of("queue");

    private SinkSetup() {
    }

    /** Providers visible to {@code loader}, by name; a provider that cannot load is one line. */
    public static Map<String, SinkProvider> providers(ClassLoader loader, Consumer<String> problems) {
        Map<String, SinkProvider> out = new LinkedHashMap<>();
        var it = ServiceLoader.load(SinkProvider.class, loader).iterator();
        while (true) {
            try {
                if (!it.hasNext()) {
                    break;
                }
                SinkProvider p = it.next();
                String name = p.name();
                if (name == null || !name.matches("[a-z0-9_-]+")) {
                    problems.accept("sink provider " + p.getClass().getName() + " has an invalid name '" + name
                            + "' (lower case letters, digits, - and _); not used");
                } else if (out.containsKey(name)) {
                    problems.accept("two sink providers are named '" + name + "' (" + out.get(name).getClass().getName()
                            + ", " + p.getClass().getName() + "); the first is used");
                } else {
                    out.put(name, p);
                }
            } catch (ServiceConfigurationError | LinkageError | RuntimeException e) {
                problems.accept("a sink provider could not be loaded (" + e + "); it is skipped");
            }
        }
        return out;
    }

    /**
     * Starts the sinks named by {@code sinks=} in config order.
     *
     * @param problems receives one line per problem
     */
    public static Map<String, Sink> start(AgentConfig config, Map<String, SinkProvider> providers,
            Consumer<String> problems) {
        Map<String, Map<String, String>> given = givenKeys(config);
        String known = String.join(", ", providers.keySet());
        // keys of a sink that does not exist are reported by AgentConfig.unknownSinkKeys
        Map<String, Sink> sinks = new LinkedHashMap<>();
        for (String name : config.list("sinks")) {
            SinkProvider p = providers.get(name);
            if (p == null) {
                problems.accept("unknown sink '" + name + "' in sinks=; known sinks: " + known);
                continue;
            }
            if (sinks.containsKey(name)) {
                continue;
            }
            Set<String> declared = new TreeSet<>();
            List<SinkSetting> settings;
            try {
                settings = List.copyOf(p.settings());
                settings.forEach(s -> declared.add(s.key()));
            } catch (RuntimeException | LinkageError e) {
                problems.accept("sink " + name + " not started: its provider cannot list its settings (" + e + ")");
                continue;
            }
            Map<String, String> keys = fromEnvironmentNames(given.getOrDefault(name, Map.of()), declared);
            Set<String> unknown = new TreeSet<>(keys.keySet());
            unknown.removeAll(declared);
            if (!unknown.isEmpty() && !p.acceptsUndeclaredKeys()) {
                problems.accept("sink " + name + " not started: unknown key" + (unknown.size() > 1 ? "s " : " ")
                        + prefixed(name, unknown) + "; valid keys: "
                        + (declared.isEmpty() ? "none" : prefixed(name, declared)));
                continue;
            }
            try {
                Sink s = p.create(new Context(name, settings, keys, problems));
                if (s == null) {
                    problems.accept("sink " + name + " not started: its provider returned no sink");
                } else {
                    sinks.put(name, s);
                }
            } catch (Exception | LinkageError e) {
                String why = e.getMessage() == null ? e.toString() : e.getMessage();
                problems.accept("sink " + name + " not started: " + why);
            }
        }
        return sinks;
    }

    /** {@code sink.<name>.<key>} entries of the config, by sink name. */
    static Map<String, Map<String, String>> givenKeys(AgentConfig config) {
        Map<String, Map<String, String>> out = new LinkedHashMap<>();
        config.values().forEach((k, v) -> {
            if (!k.startsWith("sink.")) {
                return;
            }
            int dot = k.indexOf('.', 5);
            String name = dot < 0 ? k.substring(5) : k.substring(5, dot);
            if (dot < 0 || DISPATCHER_KEYS.contains(name)) {
                return;
            }
            out.computeIfAbsent(name.toLowerCase(Locale.ROOT), n -> new LinkedHashMap<>()).put(k.substring(dot + 1), v);
        });
        return out;
    }

    /**
     * {@code BTF_AGENT_SINK_JSONL_MAX_BYTES} arrives as {@code max.bytes}: environment names
     * cannot tell {@code .} from {@code -}, so a key that is a declared one with dots for dashes
     * is taken as that one.
     */
    static Map<String, String> fromEnvironmentNames(Map<String, String> keys, Set<String> declared) {
        Map<String, String> out = new LinkedHashMap<>();
        keys.forEach((k, v) -> {
            String key = k;
            if (!declared.contains(k)) {
                for (String d : declared) {
                    if (d.replace('-', '.').equals(k)) {
                        key = d;
                    }
                }
            }
            out.putIfAbsent(key, v);
        });
        return out;
    }

    private static String prefixed(String name, Set<String> keys) {
        List<String> out = new ArrayList<>();
        for (String k : keys) {
            out.add("sink." + name + "." + k);
        }
        return String.join(", ", out);
    }

    private static final class Context implements SinkContext {
        private final String name;
        private final Map<String, String> defaults = new LinkedHashMap<>();
        private final Map<String, String> given;
        private final Consumer<String> problems;

        Context(String name, List<SinkSetting> settings, Map<String, String> given, Consumer<String> problems) {
            this.name = name;
            settings.forEach(s -> defaults.put(s.key(), s.defaultValue()));
            this.given = Map.copyOf(given);
            this.problems = problems;
        }

        @Override
        public String sinkName() {
            return name;
        }

        @Override
        public String get(String key) {
            String v = given.get(key);
            return v != null ? v : defaults.get(key);
        }

        @Override
        public long longValue(String key, long min, long max) {
            String v = get(key);
            try {
                long parsed = Long.parseLong(v == null ? "" : v.replace("_", ""));
                if (parsed >= min && parsed <= max) {
                    return parsed;
                }
            } catch (NumberFormatException ignored) {
                // reported below
            }
            throw new IllegalArgumentException("sink." + name + "." + key + "=" + v + " is not a whole number in ["
                    + min + ", " + (max == Long.MAX_VALUE ? "2^63-1" : Long.toString(max)) + "]");
        }

        @Override
        public Map<String, String> given() {
            return given;
        }

        @Override
        public void warn(String line) {
            problems.accept("sink " + name + ": " + line);
        }
    }
}
