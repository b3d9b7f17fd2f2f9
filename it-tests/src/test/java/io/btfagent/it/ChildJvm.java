package io.btfagent.it;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.List;

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
    private final Map<String, String> env = new LinkedHashMap<>();
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

    /** Sets an environment variable of the child (e.g. LD_LIBRARY_PATH). */
    ChildJvm env(String name, String value) {
        env.put(name, value);
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
        return new Running(ChildProcess.start(command(mainClass, args), env, true));
    }

    /** A child started by {@link #start}; closing it kills it by pid if it still runs. */
    static final class Running implements AutoCloseable {
        private final ChildProcess process;

        Running(ChildProcess process) {
            this.process = process;
        }

        long pid() {
            return process.pid();
        }

        /** Waits until stdout has a line {@code key value}; returns the value. */
        String awaitPrinted(String key, long timeoutSeconds) throws IOException, InterruptedException {
            process.awaitStdout(text -> printedValues(text).containsKey(key), ChildProcess.deadline(timeoutSeconds),
                    "'" + key + " ...'", 20);
            return printedValues(process.stdout()).get(key);
        }

        /** Waits until stderr contains {@code marker} (e.g. the agent's "hooked" line). */
        void awaitStderr(String marker, long timeoutSeconds) throws IOException, InterruptedException {
            process.awaitStderr(text -> text.contains(marker), null, ChildProcess.deadline(timeoutSeconds),
                    "'" + marker + "'", 20);
        }

        /** Sends one (empty) line to the child's stdin: the go of its next phase. */
        void send() throws IOException {
            process.sendLine();
        }

        /** Ends the child's stdin and waits for it to exit. */
        Result finish(long timeoutSeconds) throws IOException, InterruptedException {
            process.closeStdin();
            int exit = process.awaitExit(ChildProcess.deadline(timeoutSeconds));
            return new Result(process.pid(), exit, process.stdout(), process.stderr());
        }

        @Override
        public void close() throws IOException {
            process.close();
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
        try (ChildProcess p = ChildProcess.start(cmd, env, !readyMarkers.isEmpty())) {
            long deadline = ChildProcess.deadline(timeoutSeconds);
            for (String marker : readyMarkers) {
                p.awaitStderr(text -> text.contains(marker), null, deadline, "'" + marker + "'", 20);
                p.sendLine();
            }
            if (!readyMarkers.isEmpty()) {
                p.closeStdin();
            }
            int exit = p.awaitExit(ChildProcess.deadline(timeoutSeconds));
            return new Result(p.pid(), exit, p.stdout(), p.stderr());
        }
    }
}
