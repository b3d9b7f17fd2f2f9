package io.btfagent.config;

import java.util.Locale;

/**
 * The table of docs/configuration.md, made from the declarations in {@link ConfigKeys}: key,
 * what it takes (type, allowed words, bounds), default, and what it does. A unit test
 * (ConfigReferenceTest) fails when the page's table and this differ, and rewrites it when asked.
 */
public final class ConfigReference {
    /** The lines that enclose the generated part of the page. */
    public static final String BEGIN = "<!-- the table below is generated from ConfigKeys.java -->";
    public static final String END = "<!-- end of the generated table -->";

    private ConfigReference() {
    }

    /** The table, one row per declared key plus the sink keys' row, in declaration order. */
    public static String table() {
        StringBuilder b = new StringBuilder();
        b.append("| key | takes | default | meaning |\n|---|---|---|---|\n");
        for (ConfigKey k : ConfigKeys.all().values()) {
            b.append("| `").append(k.name()).append("` | ").append(takes(k)).append(" | ").append(shownDefault(k))
                    .append(" | ").append(k.description() == null ? "" : k.description().replace("|", "\\|"))
                    .append(" |\n");
            if (k.name().equals("sink.jsonl.path")) {
                b.append("| `sink.<name>.<key>` | per sink | per sink | a sink's own settings, listed in "
                        + "[sinks](sinks.md); an unknown key stops that sink (one line lists the valid keys), the "
                        + "others start |\n");
            }
        }
        return b.toString();
    }

    private static String takes(ConfigKey k) {
        return switch (k.type()) {
            case BOOLEAN -> "`true`, `false`";
            case NUMBER -> "number " + k.min() + "–" + k.max() + (k.aboveMax() ? " (larger: the cap)" : "");
            case WORD -> "one of " + words(k);
            case WORDS -> "comma list of " + words(k);
            case TEXT -> text(k.name());
        };
    }

    private static String text(String name) {
        if (name.equals("watch.paths") || name.equals("extensions")) {
            return "comma list of paths";
        }
        if (name.equals("sinks")) {
            return "comma list of sink names";
        }
        boolean path = name.endsWith("path") || name.endsWith(".dir") || name.equals("config")
                || name.equals("kernel.btf");
        return path ? "path" : "text";
    }

    private static String words(ConfigKey k) {
        StringBuilder b = new StringBuilder();
        for (String w : k.allowed()) {
            b.append(b.length() == 0 ? "" : ", ").append('`').append(w).append('`');
        }
        return b.toString();
    }

    private static String shownDefault(ConfigKey k) {
        if (k.shownDefault() != null) {
            return k.shownDefault();
        }
        if (k.defaultValue() == null) {
            return "none";
        }
        return k.defaultValue().isEmpty() ? "(empty)" : "`" + k.defaultValue().toLowerCase(Locale.ROOT) + "`";
    }
}
