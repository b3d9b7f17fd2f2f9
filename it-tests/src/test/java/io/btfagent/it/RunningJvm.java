package io.btfagent.it;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * A service JVM started without the agent that keeps running while a test attaches to it:
 * {@code io.btfagent.demo.WildflyOnDemandClient}, which maps libssl at once, prints
 * {@code ready}, and makes one HTTPS request per line on its stdin. A {@link ChildProcess};
 * its descendants (the JVM, when it was started through unshare) are stopped with it.
 */
final class RunningJvm implements AutoCloseable {
    static final String CLIENT = "io.btfagent.demo.WildflyOnDemandClient";
    private static final long WAIT_SECONDS = 120;

    private final ChildProcess child;
    private int requests;

    /**
     * Starts the client against {@code port} on 127.0.0.1 through {@code prefix} (e.g. setpriv),
     * with extra JVM options, and waits until it has loaded libssl.
     */
    RunningJvm(List<String> prefix, String classpath, List<String> jvmArgs, int port) throws Exception {
        this(prefix, classpath, jvmArgs, port, "/");
    }

    /** As above, each request asking for {@code path}. */
    RunningJvm(List<String> prefix, String classpath, List<String> jvmArgs, int port, String path) throws Exception {
        List<String> cmd = new ArrayList<>(prefix);
        cmd.add(ChildJvm.JAVA);
        cmd.addAll(ChildJvm.JVM_FLAGS);
        cmd.addAll(jvmArgs);
        if (jvmArgs.stream().noneMatch(a -> a.startsWith("-Dorg.wildfly.openssl.path="))) {
            cmd.add("-Dorg.wildfly.openssl.path=" + ChildJvm.LIBSSL_DIR);
        }
        cmd.addAll(List.of("-cp", classpath, CLIENT, AgainstEchoServer.HOST, String.valueOf(port), path));
        child = ChildProcess.start(cmd, Map.of(), true);
        try {
            child.awaitStdout(out -> out.contains("ready"), ChildProcess.deadline(WAIT_SECONDS), "ready", 20);
        } catch (AssertionError | IOException | InterruptedException | RuntimeException e) {
            close();
            throw e;
        }
    }

    /** The JVM's pid (a descendant when it was started through unshare or a shell). */
    long pid() {
        return ProcessHandle.of(child.pid()).filter(RunningJvm::isJava)
                .or(() -> ProcessHandle.of(child.pid()).flatMap(p -> p.descendants().filter(RunningJvm::isJava)
                        .findFirst()))
                .map(ProcessHandle::pid).orElseThrow(() -> new AssertionError("no java under " + child.pid()));
    }

    private static boolean isJava(ProcessHandle p) {
        return p.info().command().map(c -> c.endsWith("/java")).orElse(false);
    }

    String stdout() throws IOException {
        return child.stdout();
    }

    String stderr() throws IOException {
        return child.stderr();
    }

    /** Makes one more request and waits for the client to report it done; returns its line. */
    String request() throws Exception {
        requests++;
        child.sendLine();
        String prefix = "done " + requests + " ";
        child.awaitStdout(out -> out.contains(prefix), ChildProcess.deadline(WAIT_SECONDS), prefix, 20);
        return stdout().lines().filter(l -> l.startsWith(prefix)).findFirst().orElseThrow();
    }

    /** Ends stdin and returns the exit status (the client exits 0 when every request worked). */
    int finish() throws Exception {
        child.closeStdin();
        return child.awaitExit(ChildProcess.deadline(60));
    }

    @Override
    public void close() throws IOException {
        ProcessHandle.of(child.pid()).ifPresent(p -> p.descendants().forEach(ProcessHandle::destroyForcibly));
        child.close();
    }

    /** What {@code java -jar btf-agent.jar ...} printed and returned. */
    record Command(int exitCode, String stdout, String stderr) {
    }

    /** Runs the agent jar as a command, through {@code prefix} (e.g. setpriv), and waits for it. */
    static Command command(List<String> prefix, Path jar, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(prefix);
        cmd.addAll(List.of(ChildJvm.JAVA, "-jar", jar.toAbsolutePath().toString()));
        cmd.addAll(List.of(args));
        try (ChildProcess p = ChildProcess.start(cmd, Map.of(), false)) {
            int exit = p.awaitExit(ChildProcess.deadline(WAIT_SECONDS));
            return new Command(exit, p.stdout(), p.stderr());
        }
    }

    static Command command(Path jar, String... args) throws Exception {
        return command(List.of(), jar, args);
    }
}
