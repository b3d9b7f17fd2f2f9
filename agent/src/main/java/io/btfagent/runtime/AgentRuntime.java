package io.btfagent.runtime;

import io.btfagent.bpf.ProcessAccess;
import ch.qos.logback.classic.Logger;
import io.btfagent.bpf.BtfMerger;
import io.btfagent.bpf.CaptureObject;
import io.btfagent.bpf.LibbpfLog;
import io.btfagent.config.AgentConfig;
import io.btfagent.event.CaptureCounter;
import io.btfagent.log.AgentLog;
import io.btfagent.redact.Redactor;
import io.btfagent.sink.Dispatcher;
import io.btfagent.sink.Extensions;
import io.btfagent.sink.Sink;
import io.btfagent.sink.SinkProvider;
import io.btfagent.sink.SinkSetup;
import java.lang.instrument.Instrumentation;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.UnaryOperator;

/**
 * The agent proper, loaded by the isolated class loader and run on the daemon thread
 * {@code btf-agent-init}, which afterwards keeps watching for libraries the application loads
 * later. Nothing here may throw into the host.
 */
public final class AgentRuntime {
    private static final long REPORT_EVERY_MS = 10_000;
    /** Starts the JSON stats line (at exit and every stats.interval); what follows is one JSON object. */
    public static final String STATS_PREFIX = "capture stats ";
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
            log.warn("capture stopped: {}{}; the application continues without capture", String.valueOf(t),
                    ProcessAccess.cause(t));
            log.debug("cause", t);
        }
    }

    private static void runLogged(AgentConfig config, Logger log, Instrumentation inst, Runnable exitHandled)
            throws Exception {
        log.debug("logging up {} ms after JVM start", AgentLog.sinceJvmStartMs());
        ExitSummary exit = new ExitSummary();
        exit.phase("checking the host");
        config.validate();
        config.problems().forEach(log::warn);
        Optional<String> problem = Preflight.problem(config);
        if (problem.isPresent()) {
            log.warn(problem.get());
            return;
        }
        // from here on an exit says how far start-up got, or what was captured
        Thread hook = new Thread(() -> exit.atExit(log), "btf-agent-exit");
        Runtime.getRuntime().addShutdownHook(hook);
        exitHandled.run();
        exit.phase("loading libbpf");
        readKernelBtfAhead(config, log);
        Optional<String> natives = NativeBinding.bind(config, log);
        if (natives.isPresent()) {
            exit.disabled();
            log.warn(natives.get());
            return;
        }
        LibbpfLog.install(line -> log.debug("libbpf: {}", line), log::isDebugEnabled);
        Optional<String> kernel = Preflight.kernelProblem();
        if (kernel.isPresent()) {
            exit.disabled();
            log.warn(kernel.get());
            return;
        }

        exit.phase("starting sinks and the ring reader");
        Dispatcher dispatcher;
        Capture capture;
        Redactor redactor;
        try {
            redactor = Redactor.fromSettings(config.word("redact"), config.get("redact.headers"),
                    redactPatterns(config.get("redact.patterns")), log::warn);
            if (redactor != null) {
                // decoded HTTP/2 header lists are built only for the sinks that show them
                redactor.describeHeaders(config.list("sinks").contains("log") || config.list("sinks").contains("jsonl"));
            }
            dispatcher = new Dispatcher(createSinks(config, log),
                    (int) config.longValue("sink.queue.capacity"), config.longValue("sink.queue.bytes"), log::warn,
                    redactor == null ? UnaryOperator.identity() : redactor);
            capture = new Capture(config, log, dispatcher);
        } catch (Exception | Error e) {
            exit.disabled(); // run() logs why, once
            throw e;
        }
        Redactor lossListener = redactor;
        exit.started(capture, dispatcher);
        exit.phase("looking for TLS libraries");
        log.debug("libbpf bound, sinks and reader started {} ms after JVM start", AgentLog.sinceJvmStartMs());
        AgentControl.Session session = new AgentControl.Session(config, capture, dispatcher, hook, log);
        AgentControl.register(session);

        List<Path> watched = watchedPaths(config);
        long interval = config.longValue("scan.interval-ms");
        LateLoads late = new LateLoads(capture, log, config.longValue("late-loads.wait-ms"));
        session.lateLoads(late);
        // The application is already running: hook what is mapped or watched first, then put
        // the slower instrumentation in place (byte-buddy's start is most of the agent's own).
        // Connections whose handshake comes before the TLS stacks are woven are captured
        // without identity; libraries mapped meanwhile are hooked by the rescan after it.
        late.rescan(watched).get();
        List<String> lateLoads = config.list("late-loads");
        if (lateLoads.contains("linker")) {
            capture.linker().onMapped(late::wake);
            capture.linker().attach().ifPresent(p -> log.warn("{}; libraries that native code loads later are "
                    + "found by the periodic maps scan only", p));
        }
        if (lateLoads.contains("java")) {
            late.instrument(inst);
        }
        weaveTlsStacks(config, capture, log, inst);
        weaveJsse(config, capture, dispatcher, log, inst);
        late.rescan(List.of()).get();
        // nothing hooked: the first library loaded later would be hooked by code never run before
        List<Path> rehearsal = new ArrayList<>(watched);
        DEFAULT_WATCHED.forEach(d -> rehearsal.add(Path.of(d)));
        capture.rehearse(rehearsal).ifPresent(what -> log.debug("rehearsed a hook on {}, attaching nothing", what));
        exit.phase("watching for TLS libraries");
        if (capture.libraries().size() == 0) {
            List<String> refused = capture.libraries().refusals();
            if (refused.isEmpty()) {
                log.info("no hookable TLS library mapped or in {} yet; watching for one every {} ms", watched,
                        interval);
            } else {
                // each refusal of a mapped library was a warning already; those on disk only, not yet
                log.warn("no TLS library hooked: {} found, none could be hooked ({}); watching for others every {} ms",
                        refused.size(), String.join("; ", refused), interval);
            }
        }
        log.info("capture ready {} ms after JVM start: {} TLS libraries hooked; libraries loaded later are found "
                + "through {}", AgentLog.sinceJvmStartMs(), capture.libraries().size(),
                lateLoads.isEmpty() ? "the maps scan" : String.join(", ", lateLoads) + " and the maps scan");
        session.ready();
        NativeHeap.trim(log, "after start-up");
        boolean trimmedAgain = false;
        long lastLost = 0;
        long nextReport = System.currentTimeMillis() + REPORT_EVERY_MS;
        long statsEveryMs = config.longValue("stats.interval") * 1000;
        long nextStats = System.currentTimeMillis() + statsEveryMs;
        // until detached (the detach command takes the capture down once this thread has left)
        long lostSeen = 0;
        while (!session.awaitStop(interval)) {
            late.rescan(List.of()).get();
            if (lossListener != null) {
                // records lost to a full ring belong to unknown connections: HTTP/2 masking fails closed
                long lostNow = capture.recordsLost();
                if (lostNow > lostSeen) {
                    lostSeen = lostNow;
                    lossListener.recordsLost();
                }
            }
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
                if (!trimmedAgain) {
                    // what the JIT freed compiling the capture's hot paths during its first seconds
                    trimmedAgain = true;
                    NativeHeap.trim(log, "after the first " + REPORT_EVERY_MS / 1000 + " s of capture");
                }
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

    /**
     * Reads the kernel's BTF, cut to what the capture program can reach, on a thread of its own
     * while libbpf is bound: the first OpenSSL or GnuTLS hook then merges without waiting for it.
     */
    private static void readKernelBtfAhead(AgentConfig config, Logger log) {
        Thread t = new Thread(() -> {
            try {
                BtfMerger.prepare(config.get("kernel.btf"), CaptureObject.bundled().kernelTypeNames());
            } catch (java.io.IOException | RuntimeException e) {
                log.debug("kernel BTF not read ahead: {}", e.toString());
            }
        }, "btf-agent-kernel-btf");
        t.setDaemon(true);
        t.start();
    }

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
            io.btfagent.instrument.BootstrapClasses.inject(inst,
                    List.of("io.btfagent.bootstrap.ConnectionBridge$Listener", "io.btfagent.bootstrap.ConnectionBridge"));
            ExitSummary.stacksWoven(io.btfagent.identity.TlsStacks.install(inst, capture.peers(), (stack, reason) -> log.warn(
                    "identity: {} not woven ({}); its connections are captured without role, addresses and Java "
                    + "thread names", stack, reason)));
            log.debug("TLS stacks woven {} ms after JVM start", AgentLog.sinceJvmStartMs());
        } catch (Throwable t) {
            log.warn("identity: TLS stacks not woven ({}); events carry no role, JVM-side addresses or Java thread names",
                    String.valueOf(t));
            log.debug("cause", t);
        }
    }

    /**
     * The JDK's own TLS (JSSE), captured in Java: on unless {@code libraries} names other
     * families only. Any failure leaves the native capture running without it.
     */
    private static void weaveJsse(AgentConfig config, Capture capture, Dispatcher dispatcher, Logger log,
            Instrumentation inst) {
        List<String> families = config.list("libraries");
        if (!families.isEmpty() && !families.contains("jsse")) {
            return;
        }
        if (inst == null || !inst.isRetransformClassesSupported()) {
            log.warn("jsse: the JVM gives the agent no class retransformation; the JDK's own TLS is not captured");
            return;
        }
        try {
            io.btfagent.instrument.BootstrapClasses.inject(inst,
                    List.of("io.btfagent.bootstrap.JsseBridge$Listener", "io.btfagent.bootstrap.JsseBridge"));
            io.btfagent.jsse.JsseCapture jsse = new io.btfagent.jsse.JsseCapture(capture.connSequence()::next,
                    dispatcher::publish, dispatcher.hasSinks(), (int) config.longValue("capture.max-bytes"));
            io.btfagent.identity.TlsStacks.jsseAddresses(jsse::addresses);
            io.btfagent.jsse.JsseWeaving weaving = io.btfagent.jsse.JsseWeaving.install(inst, jsse, log::warn);
            capture.jsse(jsse, () -> {
                weaving.stop();
                io.btfagent.identity.TlsStacks.jsseAddresses(null);
            });
            log.debug("JSSE woven {} ms after JVM start", AgentLog.sinceJvmStartMs());
        } catch (Throwable t) {
            log.warn("jsse: the JDK's own TLS is not captured ({})", String.valueOf(t));
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
        if (sinks.isEmpty() && config.list("sinks").isEmpty()) {
            log.info("sinks= names no sink: captured events are counted, and shown only to a watch command");
        } else if (sinks.isEmpty()) {
            log.warn("no sink could start; captured events are counted but not written anywhere");
        }
        return sinks;
    }
}
