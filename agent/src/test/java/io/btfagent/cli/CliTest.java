package io.btfagent.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import org.junit.jupiter.api.Test;

class CliTest {
    private final ByteArrayOutputStream out = new ByteArrayOutputStream();
    private final ByteArrayOutputStream err = new ByteArrayOutputStream();

    private int run(String... args) throws Exception {
        return Cli.run(List.of(args), new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8));
    }

    private String out() {
        return out.toString(StandardCharsets.UTF_8);
    }

    private String err() {
        return err.toString(StandardCharsets.UTF_8);
    }

    @Test
    void noArgumentPrintsTheHelpListingEveryCommand() throws Exception {
        assertEquals(0, run());
        for (String command : List.of("doctor [<pid>]", "attach <pid>", "status <pid>", "detach <pid>", "help")) {
            assertTrue(out().contains("\n  " + command), command + " in:\n" + out());
        }
        assertEquals("", err());
    }

    @Test
    void helpFlagsPrintTheSameHelp() throws Exception {
        assertEquals(0, run("--help"));
        String help = out();
        out.reset();
        assertEquals(0, run("-h"));
        assertEquals(help, out());
        out.reset();
        assertEquals(0, run("help"));
        assertEquals(help, out());
    }

    @Test
    void unknownCommandIsOneLineThenTheHelpAndExitStatus2() throws Exception {
        assertEquals(2, run("atach", "1"));
        List<String> lines = err().lines().toList();
        assertEquals("btf-agent: unknown command 'atach'", lines.get(0));
        assertEquals("", lines.get(1));
        assertEquals(Cli.help(), err().substring(err().indexOf('\n', lines.get(0).length() + 1) + 1));
        assertEquals("", out());
    }

    @Test
    void attachStatusAndDetachNeedANumericPid() throws Exception {
        for (String command : List.of("attach", "status", "detach")) {
            err.reset();
            assertEquals(2, run(command));
            assertTrue(err().startsWith("btf-agent: " + command + " takes <pid>"), err());
            err.reset();
            assertEquals(2, run(command, "self"));
        }
        assertEquals(2, run("status", "1", "2"));
    }

    @Test
    void aPidWithNoProcessIsOneLineAndExitStatus1() throws Exception {
        long pid = unusedPid();
        assertEquals(1, run("attach", String.valueOf(pid)));
        assertEquals("no process with pid " + pid + "\n", err());
        err.reset();
        assertEquals(1, run("doctor", String.valueOf(pid)));
        assertEquals("no process with pid " + pid + "\n", err());
    }

    @Test
    void aProcessThatIsNotAJvmIsRefusedBeforeAttaching() throws Exception {
        Process sleep = new ProcessBuilder("sleep", "60").start();
        try {
            assertEquals(1, run("status", String.valueOf(sleep.pid())));
            assertEquals("pid " + sleep.pid() + " is not a HotSpot JVM (no libjvm.so in /proc/" + sleep.pid()
                    + "/maps); btf-agent attaches to Java processes only\n", err());
        } finally {
            sleep.destroyForcibly().waitFor();
        }
    }

    /** The pid of a process that has exited (pids are reused only after the counter wraps). */
    static long unusedPid() throws Exception {
        Process p = new ProcessBuilder("true").start();
        p.waitFor();
        return p.pid();
    }
}
