package io.btfagent.sink;

import java.util.Map;

/**
 * What a {@link SinkProvider} is given to create its sink: its own settings (the config's
 * {@code sink.<name>.*} keys, with the defaults the provider declared) and a way to tell the
 * user something.
 */
public interface SinkContext {
    /** The name the sink was selected by in {@code sinks=}. */
    String sinkName();

    /** The value of {@code sink.<name>.<key>}, else the declared default, else null. */
    String get(String key);

    /**
     * {@link #get} as a whole number within [min, max] ({@code _} separators allowed).
     *
     * @throws IllegalArgumentException with a one-line message naming the key, the value and
     *     the range, when it is not such a number
     */
    long longValue(String key, long min, long max);

    /** Every {@code sink.<name>.*} key the config gave, without the prefix. */
    Map<String, String> given();

    /** Writes one line to the agent's log as a warning, prefixed with the sink's name. */
    void warn(String line);
}
