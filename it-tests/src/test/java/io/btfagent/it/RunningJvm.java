package io.btfagent.it;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * A service JVM started without the agent that keeps running while a test attaches to it:
 * {@code io.btfagent.demo.WildflyOnDemandClient}, which maps libssl at once, prints
 * {@code ready}, and makes one HTTPS request per line on its stdin. Always stopped by pid.
 */
final class RunningJvm implements AutoCloseable {
    static final String CLIENT = "io.btfagent.demo.WildflyOnDemandClient";

    private final Process process;
    private final Path out;
    private final Path err;
    private final OutputStream stdin;
    private int requests;

    /**
     * Starts the client against {@code port} on 127.0.0.1 through {@code prefix} (e.g. setpriv),
     * with extra JVM options, and waits until it has loaded libssl.
     */
    RunningJvm(List<String> prefix, String classpath, List<String> jvmArgs, int port) throws Exception {
        List<String> cmd = new ArrayList<>(prefix);
        cmd.add(ChildJvm.JAVA);
        cmd.addAll(ChildJvm.JVM_FLAGS);
        cmd.addAll(jvmArgs);
        if (jvmArgs.stream().noneMatch(a -> a.startsWith("-Dorg.wildfly.openssl.path="))) {
            cmd.add("-Dorg.wildfly.openssl.path=" + ChildJvm.LIBSSL_DIR);
        }
        cmd.addAll(List.of("-cp", classpath, CLIENT, AgainstEchoServer.HOST, String.valueOf(port), "/"));
        out = Files.createTempFile("service-out", ".txt");
        err = Files.createTempFile("service-err", ".txt");
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile());
        pb.environment().keySet().removeIf(k -> k.startsWith("BTF_AGENT_") || k.equals("JAVA_TOOL_OPTIONS"));
        process = pb.start();
        stdin = process.getOutputStream();
        try {
            awaitStdout("ready");
        } catch (AssertionError | RuntimeException e) {
            close();
            throw e;
        }
    }

    /** The JVM's pid (a descendant when it was started through unshare or a shell). */
    long pid() {
        if (process.info().command().map(c -> c.endsWith("/java")).orElse(false)) {
            return process.pid();
        }
        return process.descendants().filter(p -> p.info().command().map(c -> c.endsWith("/java")).orElse(false))
                .findFirst().map(ProcessHandle::pid).orElseThrow(() -> new AssertionError("no java under "
                        + process.pid()));
    }

    boolean isAlive() {
        return process.isAlive();
    }

    String stdout() throws IOException {
        return Files.readString(out, StandardCharsets.UTF_8);
    }

    String stderr() throws IOException {
        return Files.readString(err, StandardCharsets.UTF_8);
    }

    /** Makes one more request and waits for the client to report it done; returns its line. */
    String request() throws Exception {
        requests++;
        stdin.write('\n');
        stdin.flush();
        String prefix = "done " + requests + " ";
        awaitStdout(prefix);
        return stdout().lines().filter(l -> l.startsWith(prefix)).findFirst().orElseThrow();
    }

    private void awaitStdout(String text) throws Exception {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
        while (!stdout().contains(text)) {
            if (!process.isAlive() || System.nanoTime() > deadline) {
                throw new AssertionError("service JVM never printed '" + text + "'; stdout:\n" + stdout()
                        + "\nstderr:\n" + stderr());
            }
            Thread.sleep(20);
        }
    }

    /** Ends stdin and returns the exit status (the client exits 0 when every request worked). */
    int finish() throws Exception {
        stdin.close();
        if (!process.waitFor(60, TimeUnit.SECONDS)) {
            throw new AssertionError("service JVM did not exit at the end of its stdin");
        }
        return process.exitValue();
    }

    @Override
    public void close() throws IOException {
        try {
            process.descendants().forEach(ProcessHandle::destroyForcibly);
            if (process.isAlive()) {
                process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        Files.deleteIfExists(out);
        Files.deleteIfExists(err);
    }

    /** What {@code java -jar btf-agent.jar ...} printed and returned. */
    record Command(int exitCode, String stdout, String stderr) {
    }

    /** Runs the agent jar as a command, through {@code prefix} (e.g. setpriv), and waits for it. */
    static Command command(List<String> prefix, Path jar, String... args) throws Exception {
        List<String> cmd = new ArrayList<>(prefix);
        cmd.addAll(List.of(ChildJvm.JAVA, "-jar", jar.toAbsolutePath().toString()));
        cmd.addAll(List.of(args));
        Path o = Files.createTempFile("command-out", ".txt");
        Path e = Files.createTempFile("command-err", ".txt");
        try {
            ProcessBuilder pb = new ProcessBuilder(cmd).redirectOutput(o.toFile()).redirectError(e.toFile())
                    .redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
            pb.environment().keySet().removeIf(k -> k.startsWith("BTF_AGENT_") || k.equals("JAVA_TOOL_OPTIONS"));
            Process p = pb.start();
            if (!p.waitFor(120, TimeUnit.SECONDS)) {
                p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
                throw new AssertionError(String.join(" ", cmd) + " did not finish in 120 s");
            }
            return new Command(p.exitValue(), Files.readString(o, StandardCharsets.UTF_8),
                    Files.readString(e, StandardCharsets.UTF_8));
        } finally {
            Files.deleteIfExists(o);
            Files.deleteIfExists(e);
        }
    }

    static Command command(Path jar, String... args) throws Exception {
        return command(List.of(), jar, args);
    }
}
