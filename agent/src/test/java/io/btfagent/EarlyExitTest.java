package io.btfagent;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CountDownLatch;
import org.junit.jupiter.api.Test;

class EarlyExitTest {

    @Test
    void saysNothingOnceTheRuntimeHasDecided() {
        CountDownLatch decided = new CountDownLatch(1);
        decided.countDown();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        new BtfAgent.EarlyExit(decided, 50, new PrintStream(err, true, StandardCharsets.UTF_8)).run();
        assertEquals("", err.toString(StandardCharsets.UTF_8));
    }

    @Test
    void saysOnceThatTheAgentHadNotStartedWhenStartUpOutlastsTheWait() {
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        new BtfAgent.EarlyExit(new CountDownLatch(1), 50, new PrintStream(err, true, StandardCharsets.UTF_8)).run();
        String out = err.toString(StandardCharsets.UTF_8);
        assertEquals(1, out.lines().count(), out);
        assertTrue(out.startsWith("[btf-agent] the JVM exited ") && out.contains(" ms after its start, before the agent "
                + "had started (still starting 50 ms later); nothing was captured"), out);
    }

    @Test
    void waitsForAStartUpThatDecidesWithinTheBound() throws Exception {
        CountDownLatch decided = new CountDownLatch(1);
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        Thread late = new Thread(() -> {
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            decided.countDown();
        });
        late.start();
        new BtfAgent.EarlyExit(decided, 60_000, new PrintStream(err, true, StandardCharsets.UTF_8)).run();
        late.join();
        assertEquals("", err.toString(StandardCharsets.UTF_8));
    }
}
