package io.btfagent.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The agent's own libbpf, and a JVM exit that stays quick with every probe attached. */
@Privileged
class LifecycleIT {
    private static final String IDLE = "io.btfagent.demo.IdleApp";

    @TempDir
    Path tmp;

    /** Time from "main returns" on stdout to the process having exited, in ms. */
    private long exitMillis(String agentOptions, List<String> stdout) throws Exception {
        List<String> cmd = new ArrayList<>();
        cmd.add(ChildJvm.JAVA);
        cmd.addAll(ChildJvm.JVM_FLAGS);
        if (agentOptions != null) {
            cmd.add("-javaagent:" + ChildJvm.AGENT_JAR.toAbsolutePath() + "=" + agentOptions);
        }
        cmd.addAll(List.of("-cp", ChildJvm.CLASSPATH, IDLE));
        try (ChildProcess p = ChildProcess.start(cmd, Map.of(), true)) {
            long deadline = ChildProcess.deadline(60);
            if (agentOptions != null) {
                p.awaitStderr(text -> text.contains(WildflyCaptureIT.READY), null, deadline, "the ready line", 10);
            }
            p.sendLine();
            p.closeStdin();
            p.awaitStdout(text -> text.contains("main returns"), deadline, "main returns", 1);
            long returned = System.nanoTime();
            int exit = p.awaitExit(ChildProcess.deadline(30));
            long exited = System.nanoTime();
            assertEquals(0, exit, p.stderr());
            stdout.addAll(p.stdout().lines().toList());
            return TimeUnit.NANOSECONDS.toMillis(exited - returned);
        }
    }

    @Test
    void theAgentsOwnLibbpfIsMappedAndNoSystemOne() throws Exception {
        List<String> stdout = new ArrayList<>();
        exitMillis("native.dir=" + tmp.resolve("natives"), stdout);
        List<String> mapped = stdout.stream().filter(l -> l.startsWith("mapped ")).toList();
        assertEquals(1, mapped.size(), "exactly one libbpf mapped: " + mapped);
        String path = mapped.get(0).substring("mapped ".length());
        assertTrue(path.matches(java.util.regex.Pattern.quote(tmp.resolve("natives").toString())
                + "/libbpf-[0-9a-f]{16}\\.so"), path);
    }

    @Test
    void jvmExitsWithinOneSecondOfMainReturningWithAllProbesAttached() throws Exception {
        List<Long> without = new ArrayList<>();
        List<Long> multi = new ArrayList<>();
        List<Long> single = new ArrayList<>();
        for (int i = 0; i < 3; i++) {
            without.add(exitMillis(null, new ArrayList<>()));
            multi.add(exitMillis("attach.mode=multi", new ArrayList<>()));
            single.add(exitMillis("attach.mode=single", new ArrayList<>()));
        }
        // the agent hooks every TLS library of the watched directories (here OpenSSL and GnuTLS)
        System.out.printf("JVM exit after main returns, median of 3 (ms): without agent %d, "
                + "attach.mode=multi (one uprobe_multi link per program and library) %d, "
                + "attach.mode=single (one perf-event uprobe per function and direction) %d%n",
                median(without), median(multi), median(single));
        assertTrue(median(multi) < 1000, "exit took " + multi + " ms with uprobe_multi links");
        assertFalse(multi.stream().anyMatch(ms -> ms >= 1000), "every exit within 1 s: " + multi);
    }

    private static long median(List<Long> values) {
        List<Long> sorted = new ArrayList<>(values);
        Collections.sort(sorted);
        return sorted.get(sorted.size() / 2);
    }
}
