package io.btfagent.runtime;

import ch.qos.logback.classic.Logger;
import io.btfagent.log.AgentLog;
import io.btfagent.sink.Dispatcher;

/**
 * What the agent says when the JVM exits or the agent is detached: how far start-up got, or,
 * after finishing the capture (detach, drain, flush), the capture summary and the stats line.
 * One per start-up; the run thread reports its progress here.
 */
final class ExitSummary {
    static final long STOP_DEADLINE_MS = 300;
    private static final long FLUSH_DEADLINE_MS = 500;
    /** The woven TLS stacks (io.btfagent.identity.TlsStacks), for the summary at exit; null if none. */
    private static volatile Object stacks;

    private volatile String phase = "checking the host";
    private volatile long phaseSinceMs;
    private volatile Capture capture;
    private volatile Dispatcher dispatcher;
    /** Start-up gave up and said why: there is no capture to summarise. */
    private volatile boolean disabled;

    /** Start-up is now doing {@code what}. */
    void phase(String what) {
        phaseSinceMs = AgentLog.sinceJvmStartMs();
        phase = what;
    }

    /** Start-up gave up and said why. */
    void disabled() {
        disabled = true;
    }

    /** Capture and sinks are up: from now on an exit finishes them and summarises. */
    void started(Capture capture, Dispatcher dispatcher) {
        this.dispatcher = dispatcher;
        this.capture = capture;
    }

    /** The woven TLS stacks (an io.btfagent.identity.TlsStacks), whose summary follows the capture's. */
    static void stacksWoven(Object woven) {
        stacks = woven;
    }

    /** The exit hook: says how far start-up got, or finishes the capture and says what it got. */
    void atExit(Logger log) {
        try {
            long exitMs = AgentLog.sinceJvmStartMs();
            Capture capture = this.capture;
            Dispatcher dispatcher = this.dispatcher;
            if (disabled) {
                return; // the one warning already said that there is no capture
            }
            if (capture == null || dispatcher == null) {
                log.info("capture summary: capture had not started yet: the JVM exited {} ms after its start while "
                        + "the agent was {} (since {} ms); no TLS call was seen", exitMs, phase, phaseSinceMs);
                return;
            }
            String notStarted = null;
            HookProgress progress = capture.progress();
            if (progress.firstHookedMs() < 0) {
                String hooking = progress.hooking();
                // a hook under way is let finish briefly, so the summary can say when capture would have started
                long until = System.nanoTime() + STOP_DEADLINE_MS * 1_000_000;
                while (hooking != null && progress.firstHookedMs() < 0 && System.nanoTime() < until) {
                    Thread.sleep(5);
                }
                long at = progress.firstHookedMs();
                notStarted = at >= 0
                        ? "capture had not started yet: the JVM exited " + exitMs + " ms after its start; probes "
                                + "would have been attached at " + at + " ms, so no TLS call was seen;"
                        : hooking != null
                                ? "capture had not started yet: the JVM exited " + exitMs + " ms after its start "
                                        + "while the agent was hooking " + hooking + "; no TLS call was seen;"
                                : "capture had not started: no TLS library was hooked (" + phase + ");";
            }
            finish(capture, dispatcher, log, notStarted);
        } catch (Throwable t) {
            AgentLog.early("shutdown: " + t);
        }
    }

    /** Detaches, drains, flushes the sinks, logs the capture summary and stats, and returns them (null on failure). */
    static CaptureStats finish(Capture capture, Dispatcher dispatcher, Logger log) {
        try {
            return finish(capture, dispatcher, log, null);
        } catch (Throwable t) {
            AgentLog.early("shutdown: " + t);
            return null;
        }
    }

    private static CaptureStats finish(Capture capture, Dispatcher dispatcher, Logger log, String notStarted) {
        capture.stop(STOP_DEADLINE_MS);
        dispatcher.close(FLUSH_DEADLINE_MS);
        CaptureStats s = capture.stats(dispatcher.stats());
        String summary = s.summaryLine();
        if (notStarted != null) {
            summary = summary.replaceFirst("^capture summary:", "capture summary: " + notStarted);
        }
        log.info(summary);
        log.info(AgentRuntime.STATS_PREFIX + s.json());
        if (stacks instanceof io.btfagent.identity.TlsStacks t) {
            log.info(t.summary());
        }
        return s;
    }
}
