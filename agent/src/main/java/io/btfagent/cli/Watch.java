package io.btfagent.cli;

import io.btfagent.watch.WatchFilter;
import java.io.IOException;
import java.io.InputStream;
import java.io.PrintStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * {@code watch <pid> [key=value,...]}: the JVM's TLS traffic, live, as text. Joins the agent
 * running in the JVM, or attaches one (with no sink unless the options name some) and detaches
 * it again when the watch ends, leaving an agent that was already there as it was. Events come
 * over the agent's control socket from a queue of their own: a terminal that cannot keep up
 * loses lines (the stream says how many), never the application's time. Ctrl-C ends it.
 */
final class Watch {
    private Watch() {
    }

    static int run(long pid, String options, Path jar, PrintStream out, PrintStream err) throws Exception {
        List<String> items = options.isEmpty() ? List.of() : List.of(options.split(","));
        try {
            WatchFilter.parse(items);
        } catch (IllegalArgumentException e) {
            err.println("btf-agent: " + e.getMessage());
            return Cli.USAGE;
        }
        Optional<TargetProcess> target = TargetProcess.of(pid);
        if (target.isEmpty()) {
            err.println("no process with pid " + pid);
            return 1;
        }
        TargetProcess t = target.get();
        if (ModuleLayer.boot().findModule("jdk.attach").isEmpty()) {
            err.println("this java (" + System.getProperty("java.home") + ") has no jdk.attach module: run the command "
                    + "with the java of a JDK");
            return 1;
        }
        Optional<String> problem = AgentChannel.attachProblem(t);
        if (problem.isPresent()) {
            err.println(problem.get());
            return 1;
        }
        boolean attachedHere = false;
        Optional<SocketChannel> c = connect(t);
        if (c.isEmpty()) {
            List<String> settings = new ArrayList<>(WatchFilter.settings(items));
            if (settings.stream().noneMatch(s -> s.startsWith("sinks="))) {
                settings.add("sinks="); // the watch is the only output of an agent it attaches
            }
            AgentChannel.Reply attach = AgentChannel.send(t, jar, "attach", String.join(",", settings));
            if (attach.status() != 0) {
                err.println(String.join("\n", attach.lines()));
                return 1;
            }
            attachedHere = true;
            err.println("btf-agent attached to pid " + pid + " for this watch; it is detached when the watch ends");
            c = connect(t);
            if (c.isEmpty()) {
                err.println("the agent in pid " + pid + " has no control socket; detaching");
                detach(t, err);
                return 1;
            }
        } else {
            err.println("joining the agent already running in pid " + pid + " (it stays when the watch ends)");
        }
        return stream(t, c.get(), items, attachedHere, out, err);
    }

    private static int stream(TargetProcess t, SocketChannel channel, List<String> items, boolean attachedHere,
            PrintStream out, PrintStream err) throws IOException {
        String filters = String.join(",", items.stream().filter(i -> WatchFilter.KEYS.stream()
                .anyMatch(k -> i.startsWith(k + "="))).toList());
        channel.write(ByteBuffer.wrap(("watch " + t.pid + " " + (colour() ? 1 : 0) + " " + filters + "\n")
                .getBytes(StandardCharsets.UTF_8)));
        InputStream in = Channels.newInputStream(channel);
        String first = line(in);
        if (first == null || !first.matches("exit \\d+")) {
            err.println("no answer from the agent in pid " + t.pid);
            return end(t, attachedHere, err, 1);
        }
        if (!first.equals("exit 0")) {
            String why = line(in);
            err.println(why == null ? "the agent refused the watch" : why);
            return end(t, attachedHere, err, first.equals("exit 2") ? Cli.USAGE : 1);
        }
        err.println("watching pid " + t.pid + (filters.isEmpty() ? "" : " (" + filters + ")") + "; Ctrl-C ends");
        long[] counts = new long[2]; // blocks shown, events dropped
        AtomicBoolean ended = new AtomicBoolean();
        Thread hook = new Thread(() -> {
            if (ended.compareAndSet(false, true)) {
                try {
                    channel.close();
                } catch (IOException ignored) {
                    // closing
                }
                summary(counts, err);
                if (attachedHere) {
                    detach(t, err);
                }
            }
        }, "btf-agent-watch-stop");
        Runtime.getRuntime().addShutdownHook(hook);
        String line;
        try {
            while ((line = line(in)) != null) {
                if (line.startsWith("… ") && line.contains(" events dropped here")) {
                    counts[1] += Long.parseLong(line.substring(2, line.indexOf(' ', 2)));
                } else if (!line.isEmpty() && !line.startsWith(" ")) {
                    counts[0]++;
                }
                out.println(line);
            }
        } catch (IOException e) {
            // the hook closed the connection (Ctrl-C)
        }
        if (ended.compareAndSet(false, true)) {
            try {
                Runtime.getRuntime().removeShutdownHook(hook);
            } catch (IllegalStateException exiting) {
                // the hook runs
            }
            err.println("the agent in pid " + t.pid + " ended the watch (detached, or the JVM exited)");
            summary(counts, err);
            return end(t, attachedHere, err, 0);
        }
        return 0;
    }

    private static void summary(long[] counts, PrintStream err) {
        err.println("watch: " + counts[0] + " events shown, " + counts[1] + " dropped because the terminal read "
                + "slower than the traffic came");
    }

    private static int end(TargetProcess t, boolean attachedHere, PrintStream err, int status) {
        if (attachedHere) {
            detach(t, err);
        }
        return status;
    }

    private static void detach(TargetProcess t, PrintStream err) {
        AgentChannel.Reply r = AgentChannel.viaSocket(t, "detach")
                .orElse(new AgentChannel.Reply(1, List.of("could not reach the agent in pid " + t.pid + " to detach it")));
        err.println(r.status() == 0 ? "btf-agent detached from pid " + t.pid : String.join("\n", r.lines()));
    }

    /** The agent's control socket in the JVM, if one answers. */
    private static Optional<SocketChannel> connect(TargetProcess t) {
        try {
            Path socket = t.seen("/tmp/.btf-agent-" + t.namespacePid()).resolve("control.sock");
            SocketChannel c = SocketChannel.open(StandardProtocolFamily.UNIX);
            try {
                c.connect(UnixDomainSocketAddress.of(socket));
                return Optional.of(c);
            } catch (IOException e) {
                c.close();
                return Optional.empty();
            }
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
    }

    /** Colour only for a terminal, and never with NO_COLOR set (no-color.org). */
    private static boolean colour() {
        if (System.getenv("NO_COLOR") != null) {
            return false;
        }
        java.io.Console console = System.console();
        if (console == null) {
            return false;
        }
        try { // Java 22+: a console object exists for redirected streams too
            return (Boolean) java.io.Console.class.getMethod("isTerminal").invoke(console);
        } catch (ReflectiveOperationException e) {
            return true;
        }
    }

    /** One UTF-8 line without its end, or null at the end of the stream. */
    private static String line(InputStream in) throws IOException {
        java.io.ByteArrayOutputStream b = new java.io.ByteArrayOutputStream(256);
        int c;
        while ((c = in.read()) >= 0 && c != '\n') {
            b.write(c);
        }
        if (c < 0 && b.size() == 0) {
            return null;
        }
        return b.toString(StandardCharsets.UTF_8);
    }
}
