package io.btfagent.it;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Starts a JVM (optionally with the agent) running one of the demo mains, waits for it with a
 * time limit, and always stops it by pid.
 */
final class ChildJvm {
    static final Path AGENT_JAR = Path.of(System.getProperty("btf.agent.jar", "../agent/target/btf-agent.jar"));
    static final String CLASSPATH = System.getProperty("it.classpath");
    static final String LIBSSL_DIR = "/usr/lib/x86_64-linux-gnu";
    /** The java of the child JVMs: -Dit.java selects another JDK (CI runs 17 and 25). */
    static final String JAVA = System.getProperty("it.java",
            Path.of(System.getProperty("java.home"), "bin", "java").toString());
    /** Flags every child gets, e.g. --enable-native-access=ALL-UNNAMED on JDK 24+ (-Dit.jvm.flags). */
    static final List<String> JVM_FLAGS = List.of(System.getProperty("it.jvm.flags", "").trim().split("\\s+"))
            .stream().filter(f -> !f.isEmpty()).toList();

    /** What a finished child printed and returned. */
    record Result(long pid, int exitCode, String stdout, String stderr) {
        /** stderr lines the agent wrote (its fixed prefix). */
        List<String> agentLines() {
            return stderr.lines().filter(l -> l.startsWith("[btf-agent]")).toList();
        }

        /** stderr without the agent's lines. */
        String applicationStderr() {
            StringBuilder b = new StringBuilder();
            stderr.lines().filter(l -> !l.startsWith("[btf-agent]")).forEach(l -> b.append(l).append('\n'));
            return b.toString();
        }

        /**
         * {@link #applicationStderr()} with the time wildfly's java.util.logging header line
         * carries replaced, so two runs can be compared.
         */
        String comparableStderr() {
            return applicationStderr()
                    .replaceAll("(?m)^[A-Z][a-z]{2} \\d{1,2}, \\d{4} \\d{1,2}:\\d{2}:\\d{2} [AP]M ", "<time> ");
        }

        /**
         * stdout without the lines that differ from run to run by nature (a client's
         * {@code local-port}), so two runs can be compared.
         */
        String comparableStdout() {
            StringBuilder b = new StringBuilder();
            stdout.lines().filter(l -> !l.startsWith("local-port ")).forEach(l -> b.append(l).append('\n'));
            return b.toString();
        }

        /** The demo clients' "key value" stdout lines. */
        Map<String, String> printed() {
            return printedValues(stdout);
        }
    }

    static Map<String, String> printedValues(String stdout) {
        Map<String, String> m = new LinkedHashMap<>();
        stdout.lines().filter(l -> l.indexOf(' ') > 0)
                .forEach(l -> m.put(l.substring(0, l.indexOf(' ')), l.substring(l.indexOf(' ') + 1)));
        return m;
    }

    /** The JNA jar the demo clients load libraries with: the application's, not the agent's. */
    static Path applicationJna() {
        return Arrays.stream(System.getProperty("conflict.classpath", "").split(":")).map(Path::of)
                .filter(p -> p.getFileName().toString().startsWith("jna-")).findFirst()
                .orElseThrow(() -> new IllegalStateException("no jna-*.jar in conflict.classpath"));
    }

    /** The demo classes plus the application's JNA. */
    static String classpathWithApplicationJna() {
        return CLASSPATH + ":" + applicationJna();
    }

    private final List<String> prefix = new ArrayList<>();
    private final List<String> jvmArgs = new ArrayList<>();
    private String agentOptions;
    private String classpath = CLASSPATH;
    private Path agentJar = AGENT_JAR;

    /** Runs the JVM through another command, e.g. setpriv to drop privileges. */
    ChildJvm via(List<String> command) {
        prefix.addAll(command);
        return this;
    }

    ChildJvm agent(String options) {
        this.agentOptions = options;
        return this;
    }

    ChildJvm agentJar(Path jar) {
        this.agentJar = jar;
        return this;
    }

    ChildJvm classpath(String cp) {
        this.classpath = cp;
        return this;
    }

    ChildJvm jvmArg(String arg) {
        jvmArgs.add(arg);
        return this;
    }

    Result run(String mainClass, List<String> args, long timeoutSeconds) throws IOException, InterruptedException {
        return run(mainClass, args, timeoutSeconds, List.of());
    }

    /**
     * Runs a child started with {@code -Ddemo.await-go=<phases>}, which waits for one line on
     * stdin before each phase; the i-th line is sent once the child's stderr contains the i-th
     * marker (e.g. the agent's "hooked" line), so the test controls that traffic starts after
     * the probes are attached. There must be one marker per phase.
     */
    Result runWhenReady(String mainClass, List<String> args, long timeoutSeconds, String phases,
            List<String> readyMarkers) throws IOException, InterruptedException {
        jvmArgs.add("-Ddemo.await-go=" + phases);
        return run(mainClass, args, timeoutSeconds, readyMarkers);
    }

    /**
     * Starts the child and leaves it running, its stdin open: the test drives it (e.g. runs
     * clients against it), then {@link Running#finish} ends its stdin and waits for it.
     */
    Running start(String mainClass, List<String> args) throws IOException {
        List<String> cmd = command(mainClass, args);
        Path out = Files.createTempFile("child-out", ".txt");
        Path err = Files.createTempFile("child-err", ".txt");
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile());
        pb.environment().keySet().removeIf(k -> k.startsWith("BTF_AGENT_") || k.equals("JAVA_TOOL_OPTIONS"));
        return new Running(pb.start(), out, err);
    }

    /** A child started by {@link #start}; closing it kills it by pid if it still runs. */
    static final class Running implements AutoCloseable {
        private final Process process;
        private final Path out;
        private final Path err;

        Running(Process process, Path out, Path err) {
            this.process = process;
            this.out = out;
            this.err = err;
        }

        long pid() {
            return process.pid();
        }

        String stdout() throws IOException {
            return Files.readString(out, StandardCharsets.UTF_8);
        }

        String stderr() throws IOException {
            return Files.readString(err, StandardCharsets.UTF_8);
        }

        /** Waits until stdout has a line starting with {@code key + " "}; returns the rest of it. */
        String awaitPrinted(String key, long timeoutSeconds) throws IOException, InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(timeoutSeconds);
            while (true) {
                String v = printedValues(stdout()).get(key);
                if (v != null) {
                    return v;
                }
                if (!process.isAlive() || System.nanoTime() > deadline) {
                    throw new AssertionError("child never printed '" + key + "'; stdout:\n" + stdout()
                            + "\nstderr:\n" + stderr());
                }
                Thread.sleep(20);
            }
        }

        /** Waits until stderr contains {@code marker} (e.g. the agent's "hooked" line). */
        void awaitStderr(String marker, long timeoutSeconds) throws IOException, InterruptedException {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(timeoutSeconds);
            while (!stderr().contains(marker)) {
                if (!process.isAlive() || System.nanoTime() > deadline) {
                    throw new AssertionError("child never printed '" + marker + "'; stderr:\n" + stderr());
                }
                Thread.sleep(20);
            }
        }

        /** Sends one line to the child's stdin. */
        void send(String line) throws IOException {
            process.getOutputStream().write((line + "\n").getBytes(StandardCharsets.UTF_8));
            process.getOutputStream().flush();
        }

        /** Ends the child's stdin and waits for it to exit. */
        Result finish(long timeoutSeconds) throws IOException, InterruptedException {
            process.getOutputStream().close();
            if (!process.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                throw new AssertionError("child JVM " + process.pid() + " did not finish in " + timeoutSeconds
                        + " s; stderr:\n" + stderr());
            }
            return new Result(process.pid(), process.exitValue(), stdout(), stderr());
        }

        @Override
        public void close() throws IOException, InterruptedException {
            if (process.isAlive()) {
                process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
    }

    private List<String> command(String mainClass, List<String> args) {
        List<String> cmd = new ArrayList<>(prefix);
        cmd.add(JAVA);
        cmd.addAll(JVM_FLAGS);
        if (agentOptions != null) {
            cmd.add("-javaagent:" + agentJar.toAbsolutePath() + (agentOptions.isEmpty() ? "" : "=" + agentOptions));
        }
        cmd.add("-Dorg.wildfly.openssl.path=" + LIBSSL_DIR);
        cmd.addAll(jvmArgs);
        cmd.add("-cp");
        cmd.add(classpath);
        cmd.add(mainClass);
        cmd.addAll(args);
        return cmd;
    }

    private Result run(String mainClass, List<String> args, long timeoutSeconds, List<String> readyMarkers)
            throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(prefix);
        cmd.add(JAVA);
        cmd.addAll(JVM_FLAGS);
        if (agentOptions != null) {
            cmd.add("-javaagent:" + agentJar.toAbsolutePath() + (agentOptions.isEmpty() ? "" : "=" + agentOptions));
        }
        cmd.add("-Dorg.wildfly.openssl.path=" + LIBSSL_DIR);
        cmd.addAll(jvmArgs);
        cmd.add("-cp");
        cmd.add(classpath);
        cmd.add(mainClass);
        cmd.addAll(args);
        Path out = Files.createTempFile("child-out", ".txt");
        Path err = Files.createTempFile("child-err", ".txt");
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile());
        pb.environment().keySet().removeIf(k -> k.startsWith("BTF_AGENT_") || k.equals("JAVA_TOOL_OPTIONS"));
        if (readyMarkers.isEmpty()) {
            pb.redirectInput(ProcessBuilder.Redirect.from(new java.io.File("/dev/null")));
        }
        Process p = pb.start();
        try {
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(timeoutSeconds);
            for (String marker : readyMarkers) {
                while (!Files.readString(err).contains(marker)) {
                    if (!p.isAlive() || System.nanoTime() > deadline) {
                        throw new AssertionError("child never printed '" + marker + "'; stderr:\n"
                                + Files.readString(err));
                    }
                    Thread.sleep(20);
                }
                p.getOutputStream().write('\n');
                p.getOutputStream().flush();
            }
            if (!readyMarkers.isEmpty()) {
                p.getOutputStream().close();
            }
            if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                throw new AssertionError("child JVM " + p.pid() + " did not finish in " + timeoutSeconds + " s: "
                        + String.join(" ", cmd) + "\nstderr:\n" + Files.readString(err));
            }
            return new Result(p.pid(), p.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
                    Files.readString(err, StandardCharsets.UTF_8));
        } finally {
            if (p.isAlive()) {
                p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
    }
}
