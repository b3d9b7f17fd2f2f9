package io.btfagent.bench;

/**
 * The start-up benchmark's application: prints {@code main} the moment its {@code main} runs
 * (the benchmark times the line from the process's start), then waits for its stdin to close
 * (the benchmark closes it once the agent said its probes are attached) and returns.
 */
public final class MainProbe {
    private MainProbe() {
    }

    public static void main(String[] args) throws java.io.IOException {
        System.out.println("main");
        System.out.flush();
        while (System.in.read() >= 0) {
            // until EOF
        }
    }
}
