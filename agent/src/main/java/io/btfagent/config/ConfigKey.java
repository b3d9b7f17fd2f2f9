package io.btfagent.config;

import java.util.List;
import java.util.Map;

/**
 * One setting: its name, type, default and allowed values. Declared once in {@link ConfigKeys};
 * {@link AgentConfig} checks every value against its declaration and says, in one line, what is
 * wrong, what is used instead, and what would be valid.
 *
 * @param type what kind of value it takes
 * @param defaultValue used when unset (null: unset means "none")
 * @param min smallest number (NUMBER only)
 * @param max largest number (NUMBER only)
 * @param aboveMax what a number above {@code max} becomes: true = {@code max}, false = the default
 * @param allowed the words a WORD or WORDS key accepts, in the order the message lists them
 * @param unsupported words that name something real this version does not do, with why
 * @param invalidFallback the word used when a WORD value is not allowed (null: the default)
 * @param listed whether {@link AgentConfig#values()} shows the default when the key is unset
 * @param description what it does, for the configuration reference (docs/configuration.md)
 * @param shownDefault the default as the reference shows it, where the value alone does not say
 *     it (null: {@code defaultValue}, or "none")
 */
public record ConfigKey(String name, Type type, String defaultValue, long min, long max, boolean aboveMax,
        List<String> allowed, Map<String, String> unsupported, String invalidFallback, boolean listed,
        String description, String shownDefault) {

    public enum Type {
        /** {@code true} or {@code false}. */
        BOOLEAN,
        /** A whole number in [min, max]; underscores allowed. */
        NUMBER,
        /** One of {@code allowed}. */
        WORD,
        /** A comma list, each one of {@code allowed}. */
        WORDS,
        /** Free text: a path, a comma list of paths, a name. */
        TEXT
    }

    public static ConfigKey bool(String name, boolean defaultValue) {
        return new ConfigKey(name, Type.BOOLEAN, String.valueOf(defaultValue), 0, 0, false, List.of("true", "false"),
                Map.of(), null, true, null, null);
    }

    public static ConfigKey number(String name, long defaultValue, long min, long max) {
        return new ConfigKey(name, Type.NUMBER, String.valueOf(defaultValue), min, max, false, List.of(), Map.of(),
                null, true, null, null);
    }

    /** A number whose values above {@code max} are taken as {@code max} (a cap, not a mistake). */
    public static ConfigKey cappedNumber(String name, long defaultValue, long min, long max) {
        return new ConfigKey(name, Type.NUMBER, String.valueOf(defaultValue), min, max, true, List.of(), Map.of(),
                null, true, null, null);
    }

    public static ConfigKey word(String name, String defaultValue, String... allowed) {
        return new ConfigKey(name, Type.WORD, defaultValue, 0, 0, false, List.of(allowed), Map.of(), null, true, null,
                null);
    }

    public static ConfigKey words(String name, String defaultValue, String... allowed) {
        return new ConfigKey(name, Type.WORDS, defaultValue, 0, 0, false, List.of(allowed), Map.of(), null, true, null,
                null);
    }

    public static ConfigKey text(String name, String defaultValue) {
        return new ConfigKey(name, Type.TEXT, defaultValue, 0, 0, false, List.of(), Map.of(), null, true, null,
                null);
    }

    /** This key with {@code word} known but not supported by this version, for the reason given. */
    public ConfigKey unsupported(String word, String why) {
        Map<String, String> m = new java.util.LinkedHashMap<>(unsupported);
        m.put(word, why);
        return new ConfigKey(name, type, defaultValue, min, max, aboveMax, allowed, Map.copyOf(m), invalidFallback,
                listed, description, shownDefault);
    }

    /** This key using {@code word} (not the default) when its value is not allowed: the safe choice. */
    public ConfigKey whenInvalid(String word) {
        return new ConfigKey(name, type, defaultValue, min, max, aboveMax, allowed, unsupported, word, listed,
                description, shownDefault);
    }

    /**
     * This key with its default applied where it is read but not shown among {@link AgentConfig#values()}
     * (the keys added after that list was fixed).
     */
    public ConfigKey unlisted() {
        return new ConfigKey(name, type, defaultValue, min, max, aboveMax, allowed, unsupported, invalidFallback,
                false, description, shownDefault);
    }

    /** This key with its description for the configuration reference. */
    public ConfigKey describe(String text) {
        return new ConfigKey(name, type, defaultValue, min, max, aboveMax, allowed, unsupported, invalidFallback,
                listed, text, shownDefault);
    }

    /** This key with its description and its default as the reference shows it. */
    public ConfigKey describe(String text, String shown) {
        return new ConfigKey(name, type, defaultValue, min, max, aboveMax, allowed, unsupported, invalidFallback,
                listed, text, shown);
    }
}
