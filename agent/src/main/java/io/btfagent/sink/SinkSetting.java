package io.btfagent.sink;

/**
 * One setting a sink reads, given in the config as {@code sink.<name>.<key>}.
 *
 * @param key the part after {@code sink.<name>.}, e.g. {@code path}
 * @param defaultValue used when the config does not give the key; null when it has none
 * @param meaning one line for the documentation and for the message listing valid keys
 */
public record SinkSetting(String key, String defaultValue, String meaning) {
}
