package io.btfagent.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;

class TargetProcessTest {
    private static final long SELF = ProcessHandle.current().pid();

    @Test
    void theTestJvmIsAHotSpotJvmOfThisUserInThisMountNamespace() throws Exception {
        TargetProcess t = TargetProcess.of(SELF).orElseThrow();
        assertTrue(t.isHotSpot());
        assertEquals(io.btfagent.natives.NativeFiles.uid(), t.uid());
        assertFalse(t.otherMountNamespace());
        assertEquals(java.nio.file.Path.of("/tmp"), t.seen("/tmp"));
        assertEquals("java", java.nio.file.Path.of(t.cmdline().get(0)).getFileName().toString());
    }

    @Test
    void idFieldsAreTheEffectiveIds() {
        String status = "Name:\tjava\nUid:\t1000\t1001\t1002\t1003\nGid:\t50\t51\t52\t53\n";
        assertEquals("1001", TargetProcess.idField(status, "Uid:"));
        assertEquals("51", TargetProcess.idField(status, "Gid:"));
    }

    @Test
    void rootIsNamedFromPasswd() {
        assertEquals("root", TargetProcess.userName("0"));
        assertEquals("4242424", TargetProcess.userName("4242424"));
    }

    @Test
    void jvmOptionsStopAtTheMainClassAndTheLastAttachSettingWins() throws Exception {
        String cp = TargetProcessTest.class.getProtectionDomain().getCodeSource().getLocation().getPath();
        Process p = new ProcessBuilder(javaBin(), "-Dx.y=z w", "-XX:+DisableAttachMechanism", "-cp", cp,
                "-XX:-DisableAttachMechanism", Sleeper.class.getName(), "-XX:+DisableAttachMechanism")
                .redirectErrorStream(true).start();
        try {
            TargetProcess t = TargetProcess.of(p.pid()).orElseThrow();
            assertEquals('s', p.getInputStream().read(), "the child runs its main");
            List<String> options = t.jvmOptions();
            assertTrue(options.containsAll(List.of("-Dx.y=z w", "-XX:+DisableAttachMechanism", "-cp",
                    "-XX:-DisableAttachMechanism")), options.toString());
            assertFalse(t.attachDisabled(), "the option after the main class is the application's");
            assertEquals("z w", t.systemProperties().getProperty("x.y"));
            assertEquals(List.of(cp), t.classPath());
        } finally {
            p.destroyForcibly().waitFor();
        }
    }

    /** A JVM that prints 's' and waits. */
    public static final class Sleeper {
        public static void main(String[] args) throws InterruptedException {
            System.out.print('s');
            System.out.flush();
            Thread.sleep(60_000);
        }
    }

    private static String javaBin() {
        return java.nio.file.Path.of(System.getProperty("java.home"), "bin", "java").toString();
    }
}
