package io.btfagent;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.lang.management.ManagementFactory;
import org.junit.jupiter.api.Test;

class SinceStartTest {

    @Test
    void countsFromTheProcessStartOnTheBootClockAndAdvancesWithIt() throws Exception {
        // the process starts before the JVM's own clock does (launcher, libjvm): never less
        // than the JVM's uptime, give or take the 10 ms steps of /proc
        long uptime = ManagementFactory.getRuntimeMXBean().getUptime();
        long since = BtfAgent.sinceStartMs();
        assertTrue(since >= uptime - 20, "since start " + since + " ms, JVM uptime " + uptime + " ms");
        long uptimeThen = ManagementFactory.getRuntimeMXBean().getUptime();
        Thread.sleep(300);
        long later = BtfAgent.sinceStartMs();
        long elapsed = ManagementFactory.getRuntimeMXBean().getUptime() - uptimeThen;
        assertTrue(Math.abs((later - since) - elapsed) <= 30,
                "advances as the JVM's clock does: " + (later - since) + " ms against " + elapsed + " ms");
    }
}
