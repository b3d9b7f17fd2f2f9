package io.btfagent.runtime;

import ch.qos.logback.classic.Logger;
import io.btfagent.bpf.LibbpfLog;
import io.btfagent.bpf.internal.Libbpf;
import io.btfagent.config.AgentConfig;
import io.btfagent.event.CaptureCounter;
import io.btfagent.log.AgentLog;
import io.btfagent.natives.NativeFiles;
import io.btfagent.redact.Redactor;
import io.btfagent.sink.Dispatcher;
import io.btfagent.sink.Extensions;
import io.btfagent.sink.Sink;
import io.btfagent.sink.SinkProvider;
import io.btfagent.sink.SinkSetup;
import java.io.IOException;
import java.lang.instrument.Instrumentation;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.BiConsumer;
import java.util.function.UnaryOperator;

/**
 * The agent proper, loaded by the isolated class loader and run on the daemon thread
 * {@code btf-agent-init}, which afterwards keeps watching for libraries the application loads
 * later. Nothing here may throw into the host.
 */
public final class AgentRuntime {
    static final long STOP_DEADLINE_MS = 300;
    private static final long FLUSH_DEADLINE_MS = 500;
    private static final long REPORT_EVERY_MS = 10_000;
    /** Starts the JSON stats line (at exit and every stats.interval); what follows is one JSON object. */
    public static final String STATS_PREFIX = "capture stats ";
    private static final String JNA_DISPATCH = "com/sun/jna/linux-x86-64/libjnidispatch.so";
    private static final String BUNDLED_LIBBPF = "io/btfagent/natives/libbpf.so";
    private static final List<String> JNA_GLOBALS = List.of("jna.loaded", "jnidispatch.path", "jna.platform.library.path");
    private static final List<String> DEFAULT_WATCHED = List.of("/usr/lib/x86_64-linux-gnu", "/usr/local/lib");

    private AgentRuntime() {
    }

    /**
     * Entry point called reflectively by {@code io.btfagent.BtfAgent} on its daemon thread
     * {@code btf-agent-init}, which this method keeps for watching libraries loaded later.
     */
    public static void run(String agentArgs, Instrumentation inst) {
        run(agentArgs, inst, () -> { });
    }

    /**
     * As {@link #run(String, Instrumentation)}; {@code exitHandled} runs once this runtime's own
     * exit hook is registered (from then on an exit gets a summary), so the caller's early-exit
     * hook knows it has nothing to say. It is not run when start-up gives up with a warning.
     */
    public static void run(String agentArgs, Instrumentation inst, Runnable exitHandled) {
        AgentConfig config = AgentConfig.fromAgentArgs(agentArgs);
        if (!config.enabled()) {
            AgentLog.early(config.enabledProblem().map(p -> "disabled: " + p)
                    .orElse("disabled (enabled=false); the application runs without capture"));
            return;
        }
        Logger log;
        try {
            log = AgentLog.start(config.word("log.level"));
        } catch (Throwable t) {
            AgentLog.early("capture disabled: logging could not start (" + t + ")");
            return;
        }
        try {
            runLogged(config, log, inst, exitHandled);
        } catch (Throwable t) {
            log.warn("capture stopped: {}; the application continues without capture", String.valueOf(t));
            log.debug("cause", t);
        }
    }

    /** How far start-up got: read by the exit summary of a JVM that ends before capture starts. */
    private static final class Progress {
        volatile String phase = "checking the host";
        volatile long phaseSinceMs;
        volatile Capture capture;
        volatile Dispatcher dispatcher;
        /** Start-up gave up and said why: there is no capture to summarise. */
        volatile boolean disabled;

        void phase(String what) {
            phaseSinceMs = Capture.sinceJvmStartMs();
            phase = what;
        }
    }

    private static void runLogged(AgentConfig config, Logger log, Instrumentation inst, Runnable exitHandled)
            throws Exception {
        log.debug("logging up {} ms after JVM start", Capture.sinceJvmStartMs());
        Progress progress = new Progress();
        progress.phase("checking the host");
        config.validate();
        config.problems().forEach(log::warn);
        Optional<String> problem = Preflight.problem(config);
        if (problem.isPresent()) {
            log.warn(problem.get());
            return;
        }
        // from here on an exit says how far start-up got, or what was captured
        Thread hook = new Thread(() -> shutdown(progress, log), "btf-agent-exit");
        Runtime.getRuntime().addShutdownHook(hook);
        exitHandled.run();
        progress.phase("loading libbpf");
        Optional<String> natives = loadNatives(config, log);
        if (natives.isPresent()) {
            progress.disabled = true;
            log.warn(natives.get());
            return;
        }
        LibbpfLog.install(line -> log.debug("libbpf: {}", line));

        progress.phase("starting sinks and the ring reader");
        Dispatcher dispatcher;
        Capture capture;
        try {
            Redactor redactor = Redactor.fromSettings(config.word("redact"), config.get("redact.headers"),
                    redactPatterns(config.get("redact.patterns")), log::warn);
            dispatcher = new Dispatcher(createSinks(config, log),
                    (int) config.longValue("sink.queue.capacity"), config.longValue("sink.queue.bytes"), log::warn,
                    redactor == null ? UnaryOperator.identity() : redactor);
            capture = new Capture(config, log, dispatcher);
        } catch (Exception | Error e) {
            progress.disabled = true; // run() logs why, once
            throw e;
        }
        progress.dispatcher = dispatcher;
        progress.capture = capture;
        progress.phase("looking for TLS libraries");
        log.debug("libbpf bound, sinks and reader started {} ms after JVM start", Capture.sinceJvmStartMs());
        AgentControl.Session session = new AgentControl.Session(config, capture, dispatcher, hook, log);
        AgentControl.register(session);

        List<Path> watched = watchedPaths(config);
        long interval = config.longValue("scan.interval-ms");
        // Late loads first: a library the application loads while the watched ones are being
        // hooked is then looked at as soon as that is done.
        LateLoads late = new LateLoads(capture, log, config.longValue("late-loads.wait-ms"));
        session.lateLoads(late);
        List<String> lateLoads = config.list("late-loads");
        if (lateLoads.contains("linker")) {
            capture.onLibraryMapped(late::wake);
            capture.watchLinker().ifPresent(p -> log.warn("{}; libraries that native code loads later are found by "
                    + "the periodic maps scan only", p));
        }
        if (lateLoads.contains("java")) {
            late.instrument(inst);
        }
        weaveTlsStacks(config, capture, log, inst);
        late.rescan(watched).get();
        progress.phase("watching for TLS libraries");
        if (capture.hookedCount() == 0) {
            log.info("no hookable TLS library mapped or in {} yet; watching for one every {} ms", watched, interval);
        }
        session.ready();
        long lastLost = 0;
        long nextReport = System.currentTimeMillis() + REPORT_EVERY_MS;
        long statsEveryMs = config.longValue("stats.interval") * 1000;
        long nextStats = System.currentTimeMillis() + statsEveryMs;
        // until detached (the detach command takes the capture down once this thread has left)
        while (!session.awaitStop(interval)) {
            late.rescan(List.of()).get();
            long now = System.currentTimeMillis();
            boolean report = now >= nextReport;
            boolean stats = statsEveryMs > 0 && now >= nextStats;
            if (!report && !stats) {
                continue;
            }
            CaptureStats s = capture.stats(dispatcher.stats());
            if (stats) {
                nextStats = now + statsEveryMs;
                log.info(STATS_PREFIX + s.json());
            }
            if (report) {
                nextReport = now + REPORT_EVERY_MS;
                long lost = s.get(CaptureCounter.RECORDS_LOST);
                if (lost > lastLost) {
                    log.warn("{} records lost because the ring buffer was full (total {}); raise ring.bytes",
                            lost - lastLost, lost);
                    lastLost = lost;
                }
                dispatcher.dropReport().forEach(log::warn);
            }
        }
    }

    /** The woven TLS stacks (io.btfagent.identity.TlsStacks), for the summary at exit; null if none. */
    private static volatile Object stacks;

    /**
     * Connection identity and Java thread names for the JVM's TLS stacks. The bridge goes into
     * the bootstrap loader first; only then are classes that refer to it loaded (TlsStacks).
     * Any failure leaves capture running without identity.
     */
    private static void weaveTlsStacks(AgentConfig config, Capture capture, Logger log, Instrumentation inst) {
        if ("false".equalsIgnoreCase(config.get("identity"))) {
            return;
        }
        if (inst == null || !inst.isRetransformClassesSupported()) {
            log.warn("identity: the JVM gives the agent no class retransformation; events carry no role, JVM-side "
                    + "addresses or Java thread names");
            return;
        }
        try {
            io.btfagent.identity.BootstrapClasses.inject(inst,
                    List.of("io.btfagent.bootstrap.ConnectionBridge$Listener", "io.btfagent.bootstrap.ConnectionBridge"));
            stacks = io.btfagent.identity.TlsStacks.install(inst, capture.peers(), (stack, reason) -> log.warn(
                    "identity: {} not woven ({}); its connections are captured without role, addresses and Java "
                    + "thread names", stack, reason));
            log.debug("TLS stacks woven {} ms after JVM start", Capture.sinceJvmStartMs());
        } catch (Throwable t) {
            log.warn("identity: TLS stacks not woven ({}); events carry no role, JVM-side addresses or Java thread names",
                    String.valueOf(t));
            log.debug("cause", t);
        }
    }

    /**
     * Libraries hooked before they are loaded, so the first bytes of a library that is opened
     * late (wildfly-openssl, Tomcat) are not missed. Uprobes are per file and filtered by our
     * pid: other processes using the same file pay nothing. {@code watch.paths}, when set (even
     * empty), replaces the defaults.
     */
    static List<Path> watchedPaths(AgentConfig config) {
        String configured = config.get("watch.paths");
        List<String> paths = new ArrayList<>();
        if (configured != null) {
            paths.addAll(List.of(configured.split(",")));
        } else {
            paths.addAll(DEFAULT_WATCHED);
            // wildfly-openssl loads libssl from this directory on first use
            paths.add(System.getProperty("org.wildfly.openssl.path", ""));
        }
        Set<Path> out = new LinkedHashSet<>();
        for (String p : paths) {
            if (!p.isBlank()) {
                out.add(Path.of(p.trim()).normalize());
            }
        }
        return List.copyOf(out);
    }

    /**
     * Extracts the native libraries into {@code native.dir} and binds JNA and libbpf to them.
     * Returns the reason it could not, as one line.
     */
    @SuppressWarnings("unchecked")
    private static Path nativeDir(AgentConfig config) {
        String configured = config.get("native.dir");
        return configured == null ? NativeFiles.defaultDir() : Path.of(configured);
    }

    private static Optional<String> loadNatives(AgentConfig config, Logger log) {
        Path dir = nativeDir(config);
        ClassLoader loader = AgentRuntime.class.getClassLoader();
        try {
            NativeFiles.prepareDir(dir);
            Optional<String> noexec = NativeFiles.noexecProblem(dir, Files.readString(Path.of("/proc/self/mountinfo")));
            if (noexec.isPresent()) {
                return Optional.of("capture disabled: " + noexec.get());
            }
            Path dispatch = NativeFiles.extract(loader, JNA_DISPATCH, dir);
            if (loader instanceof BiConsumer) {
                ((BiConsumer<String, URL>) loader).accept(JNA_DISPATCH, dispatch.toUri().toURL());
            }
            String libbpf = config.get("libbpf.path");
            if (libbpf == null) {
                libbpf = loader.getResource(BUNDLED_LIBBPF) != null
                        ? NativeFiles.extract(loader, BUNDLED_LIBBPF, dir).toString()
                        : Preflight.systemLibbpf().orElse(null);
            }
            if (libbpf == null) {
                return Optional.of("capture disabled: this agent build carries no libbpf and none is installed; "
                        + "set libbpf.path or install libbpf1");
            }
            bindKeepingJvmProperties(libbpf);
            log.debug("natives: JNA dispatch {}, libbpf {}", dispatch, libbpf);
            return Optional.empty();
        } catch (IOException e) {
            return Optional.of("capture disabled: cannot prepare native libraries in " + dir + ": " + e.getMessage()
                    + "; set native.dir to a writable directory of your own");
        } catch (UnsatisfiedLinkError e) {
            return Optional.of("capture disabled: cannot load native libraries from " + dir + " (" + e.getMessage()
                    + "); set native.dir to a directory on a file system that allows executables");
        }
    }

    /**
     * JNA's class initialisation sets JVM-wide system properties ({@code jna.loaded},
     * {@code jnidispatch.path}, {@code jna.platform.library.path}); the application's own JNA
     * would see ours. Put back what was there before.
     */
    private static void bindKeepingJvmProperties(String libbpf) {
        Map<String, String> before = new LinkedHashMap<>();
        for (String k : JNA_GLOBALS) {
            before.put(k, System.getProperty(k));
        }
        try {
            Libbpf.bind(libbpf);
        } finally {
            before.forEach((k, v) -> {
                if (v == null) {
                    System.clearProperty(k);
                } else {
                    System.setProperty(k, v);
                }
            });
        }
    }

    /** {@code redact.patterns}: regular expressions separated by {@code ;;}. */
    static List<String> redactPatterns(String value) {
        List<String> out = new ArrayList<>();
        if (value != null) {
            for (String p : value.split(";;")) {
                if (!p.isBlank()) {
                    out.add(p.trim());
                }
            }
        }
        return out;
    }

    private static Map<String, Sink> createSinks(AgentConfig config, Logger log) {
        ClassLoader loader = Extensions.loader(config.get("extensions"), AgentRuntime.class.getClassLoader(), log::warn);
        Map<String, SinkProvider> providers = SinkSetup.providers(loader, log::warn);
        config.unknownSinkKeys(providers.keySet()).forEach(log::warn);
        Map<String, Sink> sinks = SinkSetup.start(config, providers, log::warn);
        if (sinks.isEmpty()) {
            log.warn("no sink could start; captured events are counted but not written anywhere");
        }
        return sinks;
    }

    /** The exit hook: says how far start-up got, or finishes the capture and says what it got. */
    private static void shutdown(Progress progress, Logger log) {
        try {
            long exitMs = Capture.sinceJvmStartMs();
            Capture capture = progress.capture;
            Dispatcher dispatcher = progress.dispatcher;
            if (progress.disabled) {
                return; // the one warning already said that there is no capture
            }
            if (capture == null || dispatcher == null) {
                log.info("capture summary: capture had not started yet: the JVM exited {} ms after its start while "
                        + "the agent was {} (since {} ms); no TLS call was seen", exitMs, progress.phase,
                        progress.phaseSinceMs);
                return;
            }
            String notStarted = null;
            if (capture.firstHookedMs() < 0) {
                String hooking = capture.hooking();
                // a hook under way is let finish briefly, so the summary can say when capture would have started
                long until = System.nanoTime() + STOP_DEADLINE_MS * 1_000_000;
                while (hooking != null && capture.firstHookedMs() < 0 && System.nanoTime() < until) {
                    Thread.sleep(5);
                }
                long at = capture.firstHookedMs();
                notStarted = at >= 0
                        ? "capture had not started yet: the JVM exited " + exitMs + " ms after its start; probes "
                                + "would have been attached at " + at + " ms, so no TLS call was seen;"
                        : hooking != null
                                ? "capture had not started yet: the JVM exited " + exitMs + " ms after its start "
                                        + "while the agent was hooking " + hooking + "; no TLS call was seen;"
                                : "capture had not started: no TLS library was hooked (" + progress.phase + ");";
            }
            finish(capture, dispatcher, log, notStarted);
        } catch (Throwable t) {
            AgentLog.early("shutdown: " + t);
        }
    }

    /** Detaches, drains, flushes the sinks, logs the capture summary and stats, and returns them (null on failure). */
    static CaptureStats shutdown(Capture capture, Dispatcher dispatcher, Logger log) {
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
        log.info(STATS_PREFIX + s.json());
        if (stacks instanceof io.btfagent.identity.TlsStacks t) {
            log.info(t.summary());
        }
        return s;
    }
}
