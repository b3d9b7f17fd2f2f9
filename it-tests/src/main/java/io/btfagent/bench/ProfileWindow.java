package io.btfagent.bench;

import java.io.IOException;
import one.profiler.AsyncProfiler;

/**
 * async-profiler over the measured part of a benchmark run, in the profiled JVM itself. The
 * library is loaded with {@code -agentpath} when the JVM starts (a second agent beside
 * btf-agent) and found again here by the same path, so that sampling covers the measured
 * window only and neither the JVM's start nor the agent's hooking and weaving.
 *
 * <p>Settings (system properties of the profiled JVM): {@code bench.profile.lib} (the
 * {@code libasyncProfiler.so} given to {@code -agentpath}; without it nothing is profiled) and
 * {@code bench.profile.out} (the path prefix of the outputs: {@code .html}, the flame graph,
 * and {@code .collapsed}, one line per stack with its sample count, the thread as the root
 * frame). Sampling: CPU time ({@code event=cpu}, perf_events with kernel frames) every 1 ms,
 * or the interval timer ({@code itimer}, no kernel frames) where perf_events are refused;
 * the event used goes to stderr.
 */
public final class ProfileWindow {
    /** The running profiler, an {@link AsyncProfiler}: typed Object so that unprofiled runs need no jar. */
    private static Object profiler;

    private ProfileWindow() {
    }

    /** Starts sampling if {@code bench.profile.lib} is set. */
    public static synchronized void start() throws IOException {
        String lib = System.getProperty("bench.profile.lib");
        if (lib == null || profiler != null) {
            return;
        }
        AsyncProfiler p = AsyncProfiler.getInstance(lib);
        String event = "cpu";
        try {
            p.execute("start,event=cpu,interval=1ms,threads");
        } catch (IllegalStateException | IOException e) {
            System.err.println("profile: event=cpu refused (" + e.getMessage() + "); sampling with itimer");
            event = "itimer";
            p.execute("start,event=itimer,interval=1ms,threads");
        }
        System.err.println("profile: sampling " + event + " every 1 ms");
        profiler = p;
    }

    /** Stops sampling and writes the flame graph and the collapsed stacks. */
    public static synchronized void stop() throws IOException {
        if (profiler == null) {
            return;
        }
        String out = System.getProperty("bench.profile.out", "profile");
        AsyncProfiler p = (AsyncProfiler) profiler;
        p.execute("stop");
        p.execute("collapsed,file=" + out + ".collapsed");
        p.execute("flamegraph,title=" + title() + ",file=" + out + ".html");
        profiler = null;
    }

    private static String title() {
        // the title goes into the command line, where commas separate options
        return System.getProperty("bench.profile.title", "btf-agent bench").replace(',', ';');
    }
}
