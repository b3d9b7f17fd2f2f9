package io.btfagent.sink;

import io.btfagent.event.CaptureEvent;
import io.btfagent.log.AgentLog;

/** Prints each event as one line of the agent's log. */
public final class LogSink implements Sink {
    @Override
    public void accept(CaptureEvent event) {
        AgentLog.get().info(EventText.line(event));
    }

    /** {@code sinks=log}. */
    public static final class Provider implements SinkProvider {
        @Override
        public String name() {
            return "log";
        }

        @Override
        public Sink create(SinkContext context) {
            return new LogSink();
        }
    }
}
