package io.btfagent.bench;

import java.lang.instrument.Instrumentation;

/** An agent that does nothing: what the start-up benchmark compares btf-agent's premain with. */
public final class EmptyAgent {
    private EmptyAgent() {
    }

    public static void premain(String args, Instrumentation inst) {
        // nothing: the cost of -javaagent itself
    }
}
