package io.btfagent.it;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * One child process of a test, the one way the tests start them: stdout and stderr go to temp
 * files that can be polled while it runs; {@code BTF_AGENT_*} and {@code JAVA_TOOL_OPTIONS} are
 * removed from its environment (the test's own settings must not configure the child's agent);
 * waits have deadlines that fail with what the child printed; {@link #close()} destroys it by
 * pid if it still runs and deletes the files, also when the test fails.
 */
final class ChildProcess implements AutoCloseable {
    private final List<String> command;
    private final Process process;
    private final Path out;
    private final Path err;
    private final long startNanos;

    private ChildProcess(List<String> command, Process process, Path out, Path err, long startNanos) {
        this.command = List.copyOf(command);
        this.process = process;
        this.out = out;
        this.err = err;
        this.startNanos = startNanos;
    }

    /**
     * Starts {@code command} with {@code env} added to the cleaned environment; with
     * {@code stdin} false its stdin is /dev/null, else {@link #sendLine()} writes to it.
     */
    static ChildProcess start(List<String> command, Map<String, String> env, boolean stdin) throws IOException {
        Path out = Files.createTempFile("child-out", ".txt");
        Path err = Files.createTempFile("child-err", ".txt");
        ProcessBuilder pb = new ProcessBuilder(command).redirectOutput(out.toFile()).redirectError(err.toFile());
        pb.environment().keySet().removeIf(k -> k.startsWith("BTF_AGENT_") || k.equals("JAVA_TOOL_OPTIONS"));
        // -Dit.kernel.assume-missing=attach-cookie,bpf-loop,fetch-atomics runs every test's agent
        // with the programs of kernels that lack those features (kernel.assume-missing)
        String assumeMissing = System.getProperty("it.kernel.assume-missing", "");
        if (!assumeMissing.isEmpty()) {
            pb.environment().put("BTF_AGENT_KERNEL_ASSUME_MISSING", assumeMissing);
        }
        pb.environment().putAll(env);
        if (!stdin) {
            pb.redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null")));
        }
        long t0 = System.nanoTime();
        try {
            return new ChildProcess(command, pb.start(), out, err, t0);
        } catch (IOException | RuntimeException e) {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
            throw e;
        }
    }

    long pid() {
        return process.pid();
    }

    boolean isAlive() {
        return process.isAlive();
    }

    /** What it has written to stdout so far. */
    String stdout() throws IOException {
        return Files.readString(out, StandardCharsets.UTF_8);
    }

    /** What it has written to stderr so far. */
    String stderr() throws IOException {
        return Files.readString(err, StandardCharsets.UTF_8);
    }

    long millisSinceStart() {
        return (System.nanoTime() - startNanos) / 1_000_000;
    }

    /** A deadline {@code seconds} from now, for the await methods. */
    static long deadline(long seconds) {
        return System.nanoTime() + TimeUnit.SECONDS.toNanos(seconds);
    }

    /**
     * Polls stderr every {@code pollMillis} until {@code ready} holds for it. Fails, naming
     * {@code what}, if the child exits first, the deadline passes, or {@code refused} (may be
     * null) holds first.
     */
    void awaitStderr(Predicate<String> ready, Predicate<String> refused, long deadlineNanos, String what,
            long pollMillis) throws IOException, InterruptedException {
        await(err, ready, refused, deadlineNanos, what, pollMillis);
    }

    /** As {@link #awaitStderr}, on stdout. */
    void awaitStdout(Predicate<String> ready, long deadlineNanos, String what, long pollMillis)
            throws IOException, InterruptedException {
        await(out, ready, null, deadlineNanos, what, pollMillis);
    }

    private void await(Path stream, Predicate<String> ready, Predicate<String> refused, long deadlineNanos,
            String what, long pollMillis) throws IOException, InterruptedException {
        while (true) {
            String text = Files.readString(stream, StandardCharsets.UTF_8);
            if (ready.test(text)) {
                return;
            }
            boolean refusal = refused != null && refused.test(text);
            boolean late = System.nanoTime() > deadlineNanos;
            // what it printed just before exiting is in the file once it has exited
            if (!process.isAlive() && ready.test(Files.readString(stream, StandardCharsets.UTF_8))) {
                return;
            }
            if (refusal || late || !process.isAlive()) {
                throw new AssertionError((refusal ? "the child refused (see stderr below); "
                        : late ? "before the deadline " : "child exited (" + process.exitValue() + ") and ")
                        + "it never printed " + what + "\ncommand: " + String.join(" ", command)
                        + "\nstdout:\n" + stdout() + "\nstderr:\n" + stderr());
            }
            Thread.sleep(pollMillis);
        }
    }

    /** Writes one line to its stdin (a child started with stdin waits for these). */
    void sendLine() throws IOException {
        process.getOutputStream().write('\n');
        process.getOutputStream().flush();
    }

    void closeStdin() throws IOException {
        process.getOutputStream().close();
    }

    /** Waits until it exits and returns its exit code; fails with its stderr after {@code deadlineNanos}. */
    int awaitExit(long deadlineNanos) throws IOException, InterruptedException {
        if (!process.waitFor(Math.max(1, deadlineNanos - System.nanoTime()), TimeUnit.NANOSECONDS)) {
            throw new AssertionError("child " + process.pid() + " did not finish in time: " + String.join(" ", command)
                    + "\nstderr:\n" + stderr());
        }
        return process.exitValue();
    }

    /** Destroys it by pid if it still runs, and deletes its output files. */
    @Override
    public void close() throws IOException {
        try {
            if (process.isAlive()) {
                process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
    }
}
