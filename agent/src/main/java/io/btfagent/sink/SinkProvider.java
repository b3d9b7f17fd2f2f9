package io.btfagent.sink;

import io.btfagent.config.AgentConfig;

/**
 * Creates a sink by name. Providers are found with {@link java.util.ServiceLoader} on the
 * agent's class loader; {@code sinks=} in the config names which ones run.
 */
public interface SinkProvider {
    /** The name used in {@code sinks=}. */
    String name();

    Sink create(AgentConfig config) throws Exception;
}
