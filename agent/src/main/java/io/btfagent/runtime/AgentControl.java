package io.btfagent.runtime;

import ch.qos.logback.classic.Logger;
import io.btfagent.config.AgentConfig;
import io.btfagent.log.AgentLog;
import io.btfagent.natives.NativeFiles;
import io.btfagent.sink.Dispatcher;
import io.btfagent.watch.WatchFilter;
import io.btfagent.watch.WatchSink;
import java.io.IOException;
import java.lang.instrument.Instrumentation;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * The agent's side of the {@code attach}, {@code status} and {@code detach} commands. The
 * command line loads the agent jar into the JVM again with the argument
 * {@code @<command> <reply file> <pid as the command sees it> [options]}; the answer is written to the reply file, in a
 * directory the command made for it (owner-only, owned by this JVM's user, checked before
 * anything is written). Its first line is {@code exit <status>}, the rest is what the command
 * prints.
 */
public final class AgentControl {
    /** The double-start guard the entry class sets; cleared when the agent is detached. */
    static final String STARTED = "btf.agent.started";
    private static final long ATTACH_WAIT_MS = 60_000;
    private static final long STOP_WAIT_MS = 10_000;

    private static volatile Session running;
    /** This JVM's pid as the attaching command saw it, when that differs from its own (a pid namespace). */
    private static volatile int initialNamespacePid;
    /** The pid the last command named this JVM by, for its answer. */
    private static volatile long shownPid = ProcessHandle.current().pid();

    private AgentControl() {
    }

    /**
     * A running agent: what {@code status} reports and what {@code detach} takes down. Created
     * by {@link AgentRuntime} once its capture and sinks are up.
     */
    static final class Session {
        private final AgentConfig config;
        private final Capture capture;
        private final Dispatcher dispatcher;
        private final Thread shutdownHook;
        private final Thread owner;
        private final Logger log;
        private final CountDownLatch stop = new CountDownLatch(1);
        private volatile boolean ready;
        private volatile ControlSocket control;
        private volatile LateLoads late;

        Session(AgentConfig config, Capture capture, Dispatcher dispatcher, Thread shutdownHook, Logger log) {
            this.config = config;
            this.capture = capture;
            this.dispatcher = dispatcher;
            this.shutdownHook = shutdownHook;
            this.owner = Thread.currentThread();
            this.log = log;
        }

        void lateLoads(LateLoads l) {
            this.late = l;
        }

        /** The first scan is done: what is mapped now is hooked (or said why not). */
        void ready() {
            ready = true;
        }

        /** Waits {@code ms} for a detach; true once one was asked for. */
        boolean awaitStop(long ms) throws InterruptedException {
            return stop.await(ms, TimeUnit.MILLISECONDS);
        }

        /**
         * Detaches every probe, frees every kernel object, stops the agent's threads, flushes
         * and closes the sinks, and returns the final counters (null if they could not be read).
         */
        CaptureStats stop() {
            stop.countDown();
            try {
                owner.join(STOP_WAIT_MS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
            try {
                Runtime.getRuntime().removeShutdownHook(shutdownHook);
            } catch (IllegalStateException exiting) {
                // the JVM is exiting: its hook does the same
            }
            if (late != null) {
                late.close(); // the loading methods' advice stays, calling nothing (see LateLoads.close)
            }
            CaptureStats stats = ExitSummary.finish(capture, dispatcher, log);
            capture.close(ExitSummary.STOP_DEADLINE_MS);
            if (control != null) {
                control.close();
            }
            return stats;
        }
    }

    static void register(Session session) {
        running = session;
        session.control = ControlSocket.open(line -> {
            // "<command> <pid as the command line named this JVM>"
            String[] request = line.split(" ");
            if (request.length == 2 && request[1].matches("\\d{1,19}")) {
                shownPid = Long.parseLong(request[1]);
            }
            Answer a = switch (request[0]) {
                case "status" -> status();
                case "detach" -> detach();
                default -> new Answer(2, List.of("unknown command " + request));
            };
            return a.text();
        }, AgentControl::watch, problem -> session.log.debug("no control socket: {}; status and detach load the agent jar instead",
                problem)).orElse(null);
    }

    /** Most bytes of data queued for a watch (a terminal is slow; the application never waits). */
    static final long WATCH_QUEUE_BYTES = 16L << 20;

    /**
     * {@code watch <pid> <colour 0|1> [key=value,...]} on the control socket: streams every event
     * that passes the filters, as text, over the connection until the command goes away or the
     * agent is detached. The first line is {@code exit N} as for the other commands.
     */
    static boolean watch(String request, SocketChannel c) {
        if (!request.startsWith("watch ")) {
            return false;
        }
        String[] parts = request.split(" ", 4);
        Session s = running;
        try {
            if (parts.length < 3 || !parts[1].matches("\\d{1,19}")) {
                return say(c, 2, "malformed watch request");
            }
            shownPid = Long.parseLong(parts[1]);
            if (s == null) {
                return say(c, 1, notRunning());
            }
            WatchFilter filter;
            try {
                filter = WatchFilter.parse(parts.length > 3 ? List.of(parts[3].split(",")) : List.of());
            } catch (IllegalArgumentException e) {
                return say(c, 2, e.getMessage());
            }
            c.write(ByteBuffer.wrap(("exit 0\n").getBytes(StandardCharsets.UTF_8)));
            Dispatcher.Tap[] tap = new Dispatcher.Tap[1];
            WatchSink sink = new WatchSink(c, filter, parts[2].equals("1"), () -> {
                // on the tap's own thread, which closing the tap waits for
                Thread t = new Thread(() -> tap[0].close(), "btf-agent-watch-end");
                t.setDaemon(true);
                t.start();
            });
            tap[0] = s.dispatcher.tap("watch", sink, filter.queue(), WATCH_QUEUE_BYTES, filter::accepts);
            sink.droppedFrom(() -> tap[0].dropped().events());
            s.log.info("watch: a command streams this JVM's events (filters: {})",
                    parts.length > 3 && !parts[3].isEmpty() ? parts[3] : "none");
            return true;
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    private static boolean say(SocketChannel c, int status, String line) throws IOException {
        c.write(ByteBuffer.wrap(("exit " + status + "\n" + line + "\n")
                .getBytes(StandardCharsets.UTF_8)));
        return false;
    }

    /** What a command prints and its exit status. */
    record Answer(int status, List<String> lines) {
        String text() {
            StringBuilder b = new StringBuilder("exit ").append(status).append('\n');
            lines.forEach(l -> b.append(l).append('\n'));
            return b.toString();
        }
    }

    /**
     * This JVM's pid in the initial pid namespace, which the BPF program compares with, when the
     * attach command found it to differ from the pid this JVM sees (it runs in a container).
     */
    static java.util.OptionalInt initialNamespacePid() {
        int p = initialNamespacePid;
        return p > 0 ? java.util.OptionalInt.of(p) : java.util.OptionalInt.empty();
    }

    /**
     * Runs a command line's request; called by the entry class's {@code agentmain} on the JVM's
     * attach thread. Never throws.
     */
    public static void command(String args, Instrumentation inst) {
        String[] parts = args.substring(1).split(" ", 4);
        if (parts.length < 3 || !parts[2].matches("\\d{1,10}")) {
            AgentLog.early("command refused: malformed control argument");
            return;
        }
        Path reply = Path.of(parts[1]);
        long seenAs = Long.parseLong(parts[2]);
        String options = parts.length > 3 ? parts[3] : "";
        shownPid = seenAs;
        try {
            String problem = replyDirProblem(reply);
            if (problem != null) {
                AgentLog.early("command " + parts[0] + " refused: " + problem);
                return;
            }
            switch (parts[0]) {
                case "attach" -> {
                    // the command runs outside this JVM's pid namespace when the numbers differ
                    if (seenAs != ProcessHandle.current().pid() && seenAs <= Integer.MAX_VALUE) {
                        initialNamespacePid = (int) seenAs;
                    }
                    attach(options, inst, reply);
                }
                case "status" -> write(reply, status());
                case "detach" -> write(reply, detach());
                default -> write(reply, 2, List.of("unknown command " + parts[0]));
            }
        } catch (Throwable t) {
            AgentLog.early("command " + parts[0] + " failed: " + t);
            try {
                write(reply, 1, List.of("the agent failed: " + t));
            } catch (IOException ignored) {
                // the command line reports that no answer came
            }
        }
    }

    /** The reply's directory must be this user's alone, so nobody else can read or plant the answer. */
    static String replyDirProblem(Path reply) throws IOException {
        Path dir = reply.getParent();
        if (dir == null || !Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)) {
            return "reply directory " + dir + " is missing";
        }
        String owner = String.valueOf(Files.getAttribute(dir, "unix:uid", LinkOption.NOFOLLOW_LINKS));
        int mode = (Integer) Files.getAttribute(dir, "unix:mode", LinkOption.NOFOLLOW_LINKS);
        if (!owner.equals(NativeFiles.uid()) || (mode & 0077) != 0) {
            return "reply directory " + dir + " is not owner-only and ours (uid " + owner + ", mode "
                    + Integer.toOctalString(mode & 0777) + ")";
        }
        return null;
    }

    private static void attach(String options, Instrumentation inst, Path reply) throws IOException {
        synchronized (System.class) {
            if (System.getProperty(STARTED) != null) {
                write(reply, 1, List.of(running != null
                        ? "btf-agent is already running in pid " + shownPid
                                + " (by -javaagent or an earlier attach): 'status' shows it, 'detach' removes it"
                        : "btf-agent was started in pid " + shownPid + " (by -javaagent) and is starting or did not "
                                + "start: its lines on the JVM's stderr say which; 'status' shows it once it runs"));
                return;
            }
            System.setProperty(STARTED, "true");
        }
        List<String> lines = new ArrayList<>();
        AutoCloseable tap = AgentLog.tap(line -> {
            synchronized (lines) {
                lines.add(line);
            }
        });
        Thread init = new Thread(() -> AgentRuntime.run(options, inst), "btf-agent-init");
        init.setDaemon(true);
        init.start();
        // The attach thread of the JVM is not held: the answer is written when the first scan is done.
        Thread answer = new Thread(() -> answerAttach(init, tap, lines, reply), "btf-agent-attach");
        answer.setDaemon(true);
        answer.start();
    }

    private static void answerAttach(Thread init, AutoCloseable tap, List<String> lines, Path reply) {
        long end = System.currentTimeMillis() + ATTACH_WAIT_MS;
        Session s;
        while (((s = running) == null || !s.ready) && init.isAlive() && System.currentTimeMillis() < end) {
            sleep(20);
        }
        try {
            tap.close();
        } catch (Exception ignored) {
            // removing a list entry
        }
        List<String> out = new ArrayList<>();
        int status;
        synchronized (lines) {
            if (s != null && s.ready) {
                out.add("btf-agent attached to pid " + shownPid + " (Java "
                        + System.getProperty("java.version") + ")");
                out.add("events go to: " + String.join("; ", sinks(s)));
                out.addAll(lines);
                status = 0;
            } else {
                out.addAll(lines.isEmpty() ? List.of(init.isAlive()
                        ? "the agent did not finish starting in " + ATTACH_WAIT_MS / 1000 + " s; see the JVM's stderr"
                        : "the agent stopped without saying why; see the JVM's stderr") : lines);
                status = 1;
                if (!init.isAlive()) {
                    System.clearProperty(STARTED); // nothing runs: a later attach may try again
                }
            }
        }
        try {
            write(reply, status, out);
        } catch (IOException e) {
            AgentLog.early("cannot answer the attach command at " + reply + ": " + e);
        }
    }

    private static Answer status() {
        Session s = running;
        if (s == null) {
            return new Answer(1, List.of(notRunning()));
        }
        List<String> out = new ArrayList<>();
        out.add("btf-agent running in pid " + shownPid);
        List<String> libs = s.capture.libraries().statusLines();
        out.add("libraries hooked: " + libs.size());
        libs.forEach(l -> out.add("  " + l));
        out.add("sinks: " + String.join("; ", sinks(s)));
        out.add(AgentRuntime.STATS_PREFIX + statsJson(s));
        if (s.control != null) {
            out.add("control socket: " + s.control.path());
        }
        return new Answer(0, out);
    }

    private static Answer detach() {
        Session s;
        synchronized (AgentControl.class) {
            s = running;
            running = null;
        }
        if (s == null) {
            return new Answer(1, List.of(notRunning()));
        }
        int libraries = s.capture.libraries().size();
        CaptureStats stats = s.stop();
        System.clearProperty(STARTED);
        s.log.info("detached: every probe removed, sinks flushed and closed; the application continues without capture");
        List<String> out = new ArrayList<>();
        out.add("btf-agent detached from pid " + shownPid + ": probes of " + libraries
                + " libraries removed, sinks flushed and closed");
        if (stats != null) {
            out.add(stats.summaryLine());
            out.add(AgentRuntime.STATS_PREFIX + stats.json());
        }
        return new Answer(0, out);
    }

    private static String notRunning() {
        return "btf-agent is not running in pid " + shownPid + " (not attached, detached, or "
                + "it did not start: see the JVM's stderr)";
    }

    /** Where the events go, one entry per sink that started. */
    private static List<String> sinks(Session s) {
        List<String> out = new ArrayList<>();
        for (Dispatcher.SinkStats st : s.dispatcher.stats()) {
            switch (st.name()) {
                case "jsonl" -> out.add("jsonl " + Path.of(s.config.get("sink.jsonl.path")).toAbsolutePath());
                case "log" -> out.add("log (stderr of pid " + shownPid + ": " + stderrTarget() + ")");
                default -> out.add(st.name());
            }
        }
        if (out.isEmpty()) {
            out.add("no sink (events are only counted)");
        }
        return out;
    }

    private static String stderrTarget() {
        try {
            return Files.readSymbolicLink(Path.of("/proc/self/fd/2")).toString();
        } catch (IOException | UnsupportedOperationException e) {
            return "unknown";
        }
    }

    /** The counters of the capture and of each sink, as one JSON object (the agent's stats line). */
    static String statsJson(Session s) {
        return s.capture.stats(s.dispatcher.stats()).json();
    }

    /** Writes the answer owner-only, whole or not at all (the command line waits for the final name). */
    static void write(Path reply, int status, List<String> lines) throws IOException {
        write(reply, new Answer(status, lines));
    }

    static void write(Path reply, Answer answer) throws IOException {
        String b = answer.text();
        Path tmp = reply.resolveSibling(reply.getFileName() + ".part");
        Files.createFile(tmp, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.write(tmp, b.toString().getBytes(StandardCharsets.UTF_8), StandardOpenOption.WRITE);
        try {
            Files.move(tmp, reply, StandardCopyOption.ATOMIC_MOVE);
        } catch (AtomicMoveNotSupportedException e) {
            Files.move(tmp, reply);
        }
    }

    private static void sleep(long ms) {
        try {
            Thread.sleep(ms);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
