package io.btfagent.log;

import org.slf4j.ILoggerFactory;
import org.slf4j.IMarkerFactory;
import org.slf4j.helpers.BasicMDCAdapter;
import org.slf4j.helpers.BasicMarkerFactory;
import org.slf4j.spi.MDCAdapter;
import org.slf4j.spi.SLF4JServiceProvider;

/**
 * The slf4j binding inside the agent's class loader, for the libraries the agent carries that
 * log through slf4j (kafka-clients): their loggers are the agent's own logback context (see
 * {@link AgentLog#libraryLoggers}), never logback's auto-configured default context, which would
 * read the application's {@code -Dlogback.configurationFile} and print DEBUG lines to stdout.
 * It replaces logback's own provider entry in the agent jar.
 */
public final class AgentSlf4jProvider implements SLF4JServiceProvider {
    private final IMarkerFactory markers = new BasicMarkerFactory();
    private final MDCAdapter mdc = new BasicMDCAdapter();

    @Override
    public ILoggerFactory getLoggerFactory() {
        return AgentLog.libraryLoggers();
    }

    @Override
    public IMarkerFactory getMarkerFactory() {
        return markers;
    }

    @Override
    public MDCAdapter getMDCAdapter() {
        return mdc;
    }

    @Override
    public String getRequestedApiVersion() {
        return "2.0.99";
    }

    @Override
    public void initialize() {
        // the context is made by AgentLog
    }
}
