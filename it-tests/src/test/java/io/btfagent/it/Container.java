package io.btfagent.it;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * A real container (podman with runc, from Debian's packages) running a JVM of the trixie root
 * that {@code bin/make-root.sh} builds, imported as an image by {@code bin/make-image.sh}: its
 * own pid, mount, network (unless asked otherwise), IPC and UTS namespaces, podman's default
 * capabilities and seccomp profile unless a test changes them. The agent jar, the demo
 * classes and their libraries are mounted read-only under {@code /btf}; {@link #OUT_INSIDE}
 * is a directory of the test's.
 *
 * <p>This sandbox needs runc and the cgroupfs manager (no CAP_SYS_RESOURCE, hybrid cgroups:
 * crun refuses both) and default ulimits no higher than the host's hard limits: podman reads
 * them from the test's own {@code containers.conf} ({@code CONTAINERS_CONF}), /etc is not
 * touched. {@link #close()} removes the container ({@code podman rm -f}) and stops the podman
 * process by pid, also when the test fails.
 */
final class Container implements AutoCloseable {
    static final String SUITE = "trixie";
    /** The root's JDK. */
    static final String JAVA = "/usr/lib/jvm/java-21-openjdk-amd64/bin/java";
    static final String AGENT_INSIDE = "/btf/btf-agent.jar";
    static final String OUT_INSIDE = "/btf/out";
    /** The demo classes, wildfly-openssl and the application's JNA, as mounted inside. */
    static final String CLASSPATH_INSIDE = "/btf/classes:/btf/wildfly-openssl.jar:/btf/jna.jar";

    private static String image;
    private static Path conf;

    private final String name;
    private final ChildProcess podman;

    private Container(String name, ChildProcess podman) {
        this.name = name;
        this.podman = podman;
    }

    /** podman's settings for this sandbox, written once per test JVM under target/. */
    static synchronized Map<String, String> env() throws IOException, InterruptedException {
        if (conf == null) {
            String hard = sh("ulimit -Hn").strip();
            Path c = Path.of("target", "containers.conf").toAbsolutePath();
            Files.writeString(c, "[containers]\ndefault_ulimits = [\"nofile=" + hard + ":" + hard
                    + "\", \"nproc=32768:32768\"]\n[engine]\nruntime = \"runc\"\ncgroup_manager = \"cgroupfs\"\n");
            conf = c;
        }
        return Map.of("CONTAINERS_CONF", conf.toString());
    }

    /** The image of the trixie root, imported when the root's tarball is new. */
    static synchronized String image() throws IOException, InterruptedException {
        if (image == null) {
            Path dir = SuiteRoot.ROOTS.toAbsolutePath().normalize().resolve(SUITE);
            List<String> out = SuiteRoot.exec(List.of("bash", SuiteRoot.BIN.resolve("make-image.sh").toString(), SUITE,
                    dir.toString()), env(), TimeUnit.MINUTES.toSeconds(20));
            image = out.get(out.size() - 1).strip();
        }
        return image;
    }

    /**
     * Starts {@code command} in a new container with {@code options} added to podman's run
     * options; {@code out} is mounted at {@link #OUT_INSIDE}; with {@code stdin} the container
     * reads the test's lines ({@link #sendLine()}).
     */
    static Container start(List<String> options, Path out, List<String> command, boolean stdin)
            throws IOException, InterruptedException {
        String name = "btf-it-" + ProcessHandle.current().pid() + "-" + System.nanoTime();
        List<String> cp = Arrays.asList(ChildJvm.CLASSPATH.split(":"));
        Path wildfly = cp.stream().map(Path::of).filter(p -> p.getFileName().toString().startsWith("wildfly-openssl"))
                .findFirst().orElseThrow(() -> new IllegalStateException("no wildfly-openssl in it.classpath"));
        List<String> cmd = new ArrayList<>(List.of("podman", "run", "--rm", "--name", name));
        if (stdin) {
            cmd.add("-i");
        }
        cmd.addAll(List.of(
                "-v", ChildJvm.AGENT_JAR.toAbsolutePath() + ":" + AGENT_INSIDE + ":ro",
                "-v", Path.of(cp.get(0)).toAbsolutePath() + ":/btf/classes:ro",
                "-v", wildfly.toAbsolutePath() + ":/btf/wildfly-openssl.jar:ro",
                "-v", ChildJvm.applicationJna().toAbsolutePath() + ":/btf/jna.jar:ro",
                "-v", out.toAbsolutePath() + ":" + OUT_INSIDE));
        cmd.addAll(options);
        cmd.add(image());
        cmd.addAll(command);
        return new Container(name, ChildProcess.start(cmd, env(), stdin));
    }

    /**
     * Whether this test runs chrooted (the fresh-machine check runs the build in a chroot): the
     * kernel then refuses it new user namespaces, and the host's view of a container's files
     * through /proc differs from a real host's.
     */
    static boolean chrooted() {
        // the mount this root is: none at "/" when the root is a plain directory, or one whose
        // own root (field 4) is a directory of its file system when that was bound onto itself
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
                String[] f = line.split(" ");
                if (f.length > 4 && f[4].equals("/")) {
                    return !f[3].equals("/");
                }
            }
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    /** {@code java [jvmArgs] -cp CLASSPATH_INSIDE main args}, the JVM command line inside. */
    static List<String> java(List<String> jvmArgs, String main, String... args) {
        List<String> c = new ArrayList<>(List.of(JAVA));
        c.addAll(jvmArgs);
        c.addAll(List.of("-cp", CLASSPATH_INSIDE, main));
        c.addAll(List.of(args));
        return c;
    }

    String name() {
        return name;
    }

    ChildProcess podman() {
        return podman;
    }

    /** The container's first process (its JVM) as the host numbers it. */
    long hostPid() throws IOException, InterruptedException {
        long deadline = ChildProcess.deadline(60);
        while (System.nanoTime() < deadline) {
            String pid = sh("podman inspect --format '{{.State.Pid}}' " + name + " 2>/dev/null || true").strip();
            if (pid.matches("[1-9][0-9]*")) {
                return Long.parseLong(pid);
            }
            Thread.sleep(100);
        }
        throw new AssertionError("container " + name + " has no pid:\n" + podman.stderr());
    }

    void sendLine() throws IOException {
        podman.sendLine();
    }

    /** Waits for the container's command to end and returns its exit status. */
    int awaitExit(long seconds) throws IOException, InterruptedException {
        return podman.awaitExit(ChildProcess.deadline(seconds));
    }

    @Override
    public void close() throws IOException {
        try {
            sh("podman rm -f --time 0 " + name + " >/dev/null 2>&1 || true");
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            podman.close();
        }
    }

    private static String sh(String command) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder("bash", "-c", command).redirectErrorStream(true);
        if (conf != null) {
            pb.environment().put("CONTAINERS_CONF", conf.toString());
        }
        Process p = pb.start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        p.waitFor(60, TimeUnit.SECONDS);
        return out;
    }
}
