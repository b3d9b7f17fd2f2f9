package io.btfagent.sink;

import java.util.List;

/**
 * Creates a sink by name: the agent's sink SPI.
 *
 * <p>Providers are found with {@link java.util.ServiceLoader} (a
 * {@code META-INF/services/io.btfagent.sink.SinkProvider} file) on the agent's own class
 * loader, which also sees the jars named by the {@code extensions=} setting; {@code sinks=}
 * names which ones run. Each sink is configured only from its own {@code sink.<name>.*} keys.
 *
 * <p>At start the agent checks the config against {@link #settings()}: a key the provider does
 * not declare is reported in one line listing the valid keys, and that sink does not start
 * (the others do). A provider that passes arbitrary keys on (e.g. to a client library)
 * overrides {@link #acceptsUndeclaredKeys()}.
 */
public interface SinkProvider {
    /** The name used in {@code sinks=} and in the sink's keys: lower case, no dots. */
    String name();

    /** The keys this sink reads, with defaults. */
    default List<SinkSetting> settings() {
        return List.of();
    }

    /** Whether keys beyond {@link #settings()} are valid too. */
    default boolean acceptsUndeclaredKeys() {
        return false;
    }

    /**
     * Creates the sink. Throwing (an {@link IllegalArgumentException} for a bad setting, an
     * I/O error for a file that cannot be opened) keeps this sink from starting, with the
     * exception's message in one log line; the other sinks start regardless. Called once, on
     * the agent's start-up thread.
     */
    Sink create(SinkContext context) throws Exception;
}
