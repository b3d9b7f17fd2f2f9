package io.btfagent.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * Paths that point at what no one meant: a device, a FIFO, a file that grows, a kernel file
 * system. The application runs as without the agent, start-up keeps its time (a FIFO would
 * block an open for ever, a device would be read without end), the JVM's resident memory stays
 * where it was, and the agent says it in one line. Each child runs under GNU time, which prints
 * its peak resident memory and wall time.
 */
@Privileged
class HostileInputsIT extends AgainstEchoServer {
    private static final String CLIENT = "io.btfagent.demo.WildflyHttpsClient";
    private static final List<String> TIME = List.of("/usr/bin/time", "-f", "btf-it-time maxrss_kb=%M elapsed_s=%e");
    private static final Pattern TIMED = Pattern.compile("btf-it-time maxrss_kb=(\\d+) elapsed_s=([0-9.]+)");
    /**
     * What a bad path may add to a run with the same agent and a good one. A stall (a FIFO read
     * that never returns, a device read to the end) would hold the JVM until the test's deadline;
     * on a shared, loaded machine two honest runs differ by several seconds, so the bound is
     * that of a stall, not of a benchmark (the README's figures come from quiet runs).
     */
    private static final double SLACK_SECONDS = 20.0;
    private static final long SLACK_KB = 48 * 1024;

    private List<String> args() {
        return List.of(HOST, String.valueOf(server.port()), "/", "1");
    }

    /** A finished run with its peak resident memory (KiB) and wall time (s). */
    private record Timed(ChildJvm.Result result, long maxRssKb, double seconds) {
        List<String> agentLines() {
            return result.agentLines();
        }
    }

    private Timed run(String agentOptions, List<String> readyMarkers) throws Exception {
        ChildJvm jvm = new ChildJvm().via(TIME);
        if (agentOptions != null) {
            jvm.agent(agentOptions);
        }
        ChildJvm.Result r = jvm.runWhenReady(CLIENT, args(), 120, "traffic", readyMarkers);
        Matcher m = TIMED.matcher(r.stderr());
        assertTrue(m.find(), r.stderr());
        Timed t = new Timed(r, Long.parseLong(m.group(1)), Double.parseDouble(m.group(2)));
        System.out.println("run " + (agentOptions == null ? "without agent" : "-javaagent=" + agentOptions) + ": exit "
                + r.exitCode() + ", max RSS " + t.maxRssKb / 1024 + " MiB, " + t.seconds + " s");
        t.agentLines().forEach(l -> System.out.println("  " + l));
        return t;
    }

    private static String withoutTime(String stderr) {
        return stderr.replaceAll("(?m)^btf-it-time .*\n", "");
    }

    /** The application saw no difference: exit code, stdout, stderr. */
    private static void sameApplication(Timed base, Timed with) {
        assertEquals(base.result.exitCode(), with.result.exitCode(), "exit code");
        assertEquals(base.result.comparableStdout(), with.result.comparableStdout(), "stdout");
        assertEquals(withoutTime(base.result.comparableStderr()), withoutTime(with.result.comparableStderr()),
                "stderr");
    }

    private static void withinCost(Timed base, Timed with) {
        assertTrue(with.maxRssKb <= base.maxRssKb + SLACK_KB, "max RSS " + with.maxRssKb + " KiB against "
                + base.maxRssKb + " KiB without the bad input");
        assertTrue(with.seconds <= base.seconds + SLACK_SECONDS, with.seconds + " s against " + base.seconds
                + " s without the bad input");
    }

    private static String line(Timed t, String contains) {
        List<String> lines = t.agentLines().stream().filter(l -> l.contains(contains)).toList();
        assertEquals(1, lines.size(), "one line with '" + contains + "' in:\n" + t.result.stderr());
        return lines.get(0);
    }

    private Path fifo(String name) throws IOException, InterruptedException {
        Path p = tmp.resolve(name);
        assertEquals(0, new ProcessBuilder("mkfifo", p.toString()).inheritIO().start().waitFor());
        return p;
    }

    @Test
    void kernelBtfThatIsADeviceOrAFifoDisablesCaptureInOneLineAtNoCost() throws Exception {
        // the same agent with its kernel BTF missing: capture off, as with a refused one
        Timed base = run("kernel.btf=" + tmp.resolve("absent"), List.of("is missing or unreadable"));
        Timed none = run(null, List.of(""));
        Timed zero = run("kernel.btf=/dev/zero", List.of("capture disabled"));
        sameApplication(none, zero);
        assertEquals(1, zero.agentLines().size(), zero.result.stderr());
        assertTrue(zero.agentLines().get(0).endsWith("WARN  capture disabled: kernel BTF /dev/zero is a character "
                + "device, not a regular file; point kernel.btf at the kernel's BTF (/sys/kernel/btf/vmlinux) or "
                + "remove the setting"), zero.agentLines().get(0));
        withinCost(base, zero);

        Path fifo = fifo("vmlinux");
        Timed f = run("kernel.btf=" + fifo, List.of("capture disabled"));
        sameApplication(none, f);
        assertTrue(line(f, "capture disabled").endsWith("capture disabled: kernel BTF " + fifo + " is a FIFO, not a "
                + "regular file; point kernel.btf at the kernel's BTF (/sys/kernel/btf/vmlinux) or remove the setting"));
        withinCost(base, f);
    }

    @Test
    void kernelBtfThatGrowsWhileReadIsReadToWhatItHeldAndCaptureWorks() throws Exception {
        Path jsonl = tmp.resolve("events.jsonl");
        String sink = ",sinks=jsonl,sink.jsonl.path=" + jsonl;
        Timed base = run(sink.substring(1), List.of(WildflyCaptureIT.READY));
        Path growing = Files.write(tmp.resolve("vmlinux"), Files.readAllBytes(Path.of("/sys/kernel/btf/vmlinux")));
        Thread writer = new Thread(() -> {
            byte[] chunk = new byte[64 << 10];
            try (OutputStream out = Files.newOutputStream(growing, StandardOpenOption.APPEND)) {
                for (int i = 0; i < 4000 && !Thread.currentThread().isInterrupted(); i++) { // at most 250 MiB
                    out.write(chunk);
                    out.flush();
                    Thread.sleep(10);
                }
            } catch (IOException | InterruptedException e) {
                // the test is over
            }
        }, "grows-kernel-btf");
        writer.start();
        Timed g;
        try {
            Files.deleteIfExists(jsonl);
            g = run("kernel.btf=" + growing + sink, List.of(WildflyCaptureIT.READY));
        } finally {
            writer.interrupt();
            writer.join();
        }
        sameApplication(base, g);
        withinCost(base, g);
        assertEquals(2, CapturedEvents.read(jsonl).size(), "the BTF it held when read is the kernel's: capture works");
    }

    @Test
    void btfPathEntriesThatAreAFifoOrADeviceAndABtfPathThatIsAFileAreNamedWithWhatIsUsedInstead() throws Exception {
        Path jsonl = tmp.resolve("events.jsonl");
        String sink = ",sinks=jsonl,log,sink.jsonl.path=" + jsonl;
        Timed base = run(sink.substring(1), List.of(WildflyCaptureIT.READY));
        Path dir = Files.createDirectories(tmp.resolve("btf"));
        Path entry = dir.resolve(Libraries.buildId(Libraries.LIBSSL) + ".btf");
        assertEquals(0, new ProcessBuilder("mkfifo", entry.toString()).start().waitFor());
        Files.deleteIfExists(jsonl);
        Timed f = run("btf.path=" + dir + sink, List.of(WildflyCaptureIT.READY));
        sameApplication(base, f);
        withinCost(base, f);
        String hooked = line(f, "INFO  hooked openssl");
        assertTrue(hooked.contains("BTF catalog:openssl/") && hooked.contains("; passed over btf.path file " + entry
                + " is a FIFO, not a regular file)"), hooked);
        assertEquals(2, CapturedEvents.read(jsonl).size(), "captured through the catalog's BTF");

        // the same entry as a link to a device
        Files.delete(entry);
        Files.createSymbolicLink(entry, Path.of("/dev/zero"));
        Files.deleteIfExists(jsonl);
        Timed z = run("btf.path=" + dir + sink, List.of(WildflyCaptureIT.READY));
        sameApplication(base, z);
        withinCost(base, z);
        assertTrue(line(z, "INFO  hooked openssl").contains("; passed over btf.path file " + entry
                + " is a character device, not a regular file)"), z.result.stderr());
        assertEquals(2, CapturedEvents.read(jsonl).size());

        Files.deleteIfExists(jsonl);
        Timed p = run("btf.path=/etc/passwd" + sink, List.of(WildflyCaptureIT.READY));
        sameApplication(base, p);
        assertTrue(line(p, "btf.path /etc/passwd").endsWith("WARN  btf.path /etc/passwd is a regular file, not a "
                + "directory; BTF is chosen from the bundled catalog only; name a directory of <build-id>.btf files"));
        assertEquals(2, CapturedEvents.read(jsonl).size());
    }

    @Test
    void configFileThatIsAFifoOrADeviceIsOneLineAndTheInlineOptionsApply() throws Exception {
        Path jsonl = tmp.resolve("events.jsonl");
        String sink = ",sinks=jsonl,sink.jsonl.path=" + jsonl;
        Timed base = run(sink.substring(1), List.of(WildflyCaptureIT.READY));
        Path fifo = fifo("btf-agent.properties");
        Files.deleteIfExists(jsonl);
        Timed f = run("config=" + fifo + sink, List.of(WildflyCaptureIT.READY));
        sameApplication(base, f);
        withinCost(base, f);
        assertTrue(line(f, "config file").endsWith("WARN  config file " + fifo + " is a FIFO, not a regular file; "
                + "using defaults and inline options; name a regular file of at most 1048576 bytes"));
        assertEquals(2, CapturedEvents.read(jsonl).size());

        Files.deleteIfExists(jsonl);
        Timed z = run("config=/dev/zero" + sink, List.of(WildflyCaptureIT.READY));
        sameApplication(base, z);
        withinCost(base, z);
        assertTrue(line(z, "config file").endsWith("WARN  config file /dev/zero is a character device, not a regular "
                + "file; using defaults and inline options; name a regular file of at most 1048576 bytes"));
        assertEquals(2, CapturedEvents.read(jsonl).size());
    }

    @Test
    void sinkFileOnProcfsIsRefusedInOneLine() throws Exception {
        Timed base = run("sinks=log", List.of(WildflyCaptureIT.READY));
        Timed m = run("sinks=jsonl,log,sink.jsonl.path=/proc/self/mem", List.of(WildflyCaptureIT.READY));
        sameApplication(base, m);
        assertTrue(line(m, "sink jsonl").endsWith("WARN  sink jsonl not started: /proc/self/mem is on proc, a kernel "
                + "file system and not storage; name a file on a disk or tmpfs, e.g. /var/log/btf-agent/events.jsonl"));
        AgentStats stats = AgentStats.of(m.result);
        assertEquals(2, stats.sink("log", "delivered"), stats.toString());
    }
}
