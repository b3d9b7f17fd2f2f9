package io.btfagent.it;

import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A Debian root of another suite (made by {@code it-tests/bin/make-root.sh} with debootstrap)
 * in which a JVM runs the suite's own JDK against a library build that needs the suite's
 * glibc. {@link #open} prepares the root and a private run directory in it holding copies of
 * the agent jar, the demo classes, wildfly-openssl and the application's JNA; {@link #copyIn}
 * adds a library build; {@link #run} starts {@code chroot <root> <java> ...}.
 *
 * <p>Mounts: each child gets /proc, /sys and /dev bind-mounted into the root (/sys and /dev
 * read-only) inside a mount namespace of its own ({@code unshare --mount}), so the mounts are
 * visible to that child only and vanish with it, whatever happens to the child or to this
 * JVM: there is nothing to unmount afterwards, and a {@code rm -rf} of the root can never reach
 * the host's /dev. {@link #open} and {@link #close} still look for mounts under the root in
 * this JVM's namespace (left by a crashed run of some other tool, or by hand) and detach them
 * lazily ({@code umount -l}) before anything is extracted or deleted there.
 */
final class SuiteRoot implements AutoCloseable {
    /** Where the scripts are; the checkout's it-tests/bin by default. */
    static final Path BIN = Path.of(System.getProperty("it.bin.dir", "bin"));
    /** Where the extracted roots live (their tarballs stay in the cache). */
    static final Path ROOTS = Path.of(System.getProperty("it.roots.dir", "target/roots"));
    private static final String INSIDE = "/opt/btf-it";

    private final String suite;
    private final Path root;
    private final String java;
    private final int javaMajor;
    private final String runInside;
    private final Path runDir;
    private final String agentJar;
    private final String classpath;

    private SuiteRoot(String suite, Path root, String java, String runInside) {
        this.suite = suite;
        this.root = root;
        this.java = java;
        Matcher m = Pattern.compile("java-(\\d+)-").matcher(java);
        this.javaMajor = m.find() ? Integer.parseInt(m.group(1)) : 0;
        this.runInside = runInside;
        this.runDir = host(runInside);
        this.agentJar = runInside + "/btf-agent.jar";
        this.classpath = runInside + "/cp/classes:" + runInside + "/cp/wildfly-openssl.jar:" + runInside + "/cp/jna.jar";
    }

    /**
     * Makes (or reuses) the root of {@code suite} and a fresh run directory in it with what a
     * child JVM needs: the agent jar, the demo classes (it.classpath), wildfly-openssl and the
     * JNA of the application (the one in conflict.classpath).
     */
    static SuiteRoot open(String suite) throws IOException, InterruptedException {
        Path dir = ROOTS.toAbsolutePath().normalize().resolve(suite);
        unmountUnder(dir);
        List<String> out = exec(List.of("bash", BIN.resolve("make-root.sh").toString(), suite, dir.toString()),
                TimeUnit.MINUTES.toSeconds(20));
        if (out.size() < 2) {
            throw new IllegalStateException("make-root.sh printed " + out);
        }
        Path root = Path.of(out.get(0));
        String java = out.get(1);
        String runInside = INSIDE + "/run-" + ProcessHandle.current().pid() + "-" + System.nanoTime();
        SuiteRoot r = new SuiteRoot(suite, root, java, runInside);
        try {
            Files.createDirectories(r.runDir.resolve("cp"));
            Files.copy(ChildJvm.AGENT_JAR, r.runDir.resolve("btf-agent.jar"));
            List<String> cp = Arrays.asList(ChildJvm.CLASSPATH.split(":"));
            copyTree(Path.of(cp.get(0)), r.runDir.resolve("cp/classes"));
            Path wildfly = cp.stream().map(Path::of).filter(p -> p.getFileName().toString().startsWith("wildfly-openssl"))
                    .findFirst().orElseThrow(() -> new IllegalStateException("no wildfly-openssl in it.classpath"));
            Files.copy(wildfly, r.runDir.resolve("cp/wildfly-openssl.jar"));
            Files.copy(ChildJvm.applicationJna(), r.runDir.resolve("cp/jna.jar"));
            Files.createDirectories(r.runDir.resolve("libs"));
            Files.createDirectories(r.runDir.resolve("out"));
            Files.createDirectories(r.runDir.resolve("tmp"));
        } catch (IOException | RuntimeException e) {
            r.close();
            throw e;
        }
        return r;
    }

    String suite() {
        return suite;
    }

    /** The suite's java, as a path inside the root. */
    String java() {
        return java;
    }

    /** Flags the suite's JDK needs for JNA (JDK 24+ warns about JNI use without them). */
    List<String> jvmFlags() {
        return javaMajor >= 24 ? List.of("--enable-native-access=ALL-UNNAMED") : List.of();
    }

    String agentJar() {
        return agentJar;
    }

    String classpath() {
        return classpath;
    }

    /** The children's java.io.tmpdir, inside the root (deleted with the run directory). */
    String tmpDir() {
        return runInside + "/tmp";
    }

    /** A fresh directory for a child's output files, as a path inside the root. */
    String outDir(String name) throws IOException {
        String inside = runInside + "/out/" + name;
        Files.createDirectories(host(inside));
        return inside;
    }

    /** The host path of a path inside the root. */
    Path host(String inside) {
        return root.resolve(inside.substring(1));
    }

    /** Copies {@code files} of a library build's directory into the run directory; returns its path inside. */
    String copyIn(Path libDir, List<String> files) throws IOException {
        String inside = runInside + "/libs/" + libDir.getFileName();
        Path target = host(inside);
        Files.createDirectories(target);
        for (String f : files) {
            Files.copy(libDir.resolve(f), target.resolve(f), StandardCopyOption.REPLACE_EXISTING);
        }
        return inside;
    }

    /**
     * Runs {@code chroot <root> env -i <env> <command>} in a mount namespace of its own with
     * /proc, /sys and /dev bound into the root; see {@link Child#run}. The chain
     * unshare → sh → chroot → env → java execs in place, so the pid is the JVM's.
     */
    Child.Result run(List<String> command, Map<String, String> env, long timeoutSeconds, Predicate<String> ready,
            Predicate<String> refused, String readyWhat) throws IOException, InterruptedException {
        String r = root.toString();
        String mounts = "set -e; mount --bind /proc \"$R/proc\"; "
                + "mount --bind /sys \"$R/sys\"; mount -o remount,bind,ro \"$R/sys\"; "
                + "mount --bind /dev \"$R/dev\"; mount -o remount,bind,ro \"$R/dev\"; "
                + "exec chroot \"$R\" \"$@\"";
        List<String> cmd = new ArrayList<>(List.of("unshare", "--mount", "--propagation", "private",
                "sh", "-c", mounts, "sh"));
        cmd.add("/usr/bin/env");
        cmd.add("-i");
        Map<String, String> all = new LinkedHashMap<>();
        all.put("PATH", "/usr/local/bin:/usr/bin:/bin");
        all.put("HOME", "/root");
        all.put("LANG", "C.UTF-8");
        all.putAll(env);
        all.forEach((k, v) -> cmd.add(k + "=" + v));
        cmd.addAll(command);
        return Child.run(cmd, Map.of("R", r), timeoutSeconds, ready, refused, readyWhat);
    }

    /** Deletes the run directory and detaches anything still mounted under the root. */
    @Override
    public void close() throws IOException {
        try {
            unmountUnder(root);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } finally {
            if (Files.exists(runDir)) {
                deleteTree(runDir);
            }
        }
    }

    @Override
    public String toString() {
        return suite + " root " + root + " (java " + java + ")";
    }

    /**
     * Detaches (lazily, deepest first) every mount point under {@code dir} in this JVM's mount
     * namespace. Nothing of this class mounts there; this cleans up after anything else.
     */
    static void unmountUnder(Path dir) throws IOException, InterruptedException {
        String prefix = dir.toAbsolutePath().normalize() + "/";
        List<String> points = new ArrayList<>();
        for (String line : Files.readAllLines(Path.of("/proc/self/mountinfo"))) {
            String[] f = line.split(" ");
            if (f.length > 4) {
                String mp = unescape(f[4]);
                if (mp.startsWith(prefix)) {
                    points.add(mp);
                }
            }
        }
        points.sort(Comparator.comparingInt(String::length).reversed());
        for (String mp : points) {
            System.err.println("SuiteRoot: detaching leftover mount " + mp);
            Process p = new ProcessBuilder("umount", "-l", mp).inheritIO().start();
            if (!p.waitFor(30, TimeUnit.SECONDS)) {
                p.destroyForcibly();
            }
        }
    }

    private static String unescape(String s) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\\' && i + 3 < s.length()) {
                b.append((char) Integer.parseInt(s.substring(i + 1, i + 4), 8));
                i += 3;
            } else {
                b.append(c);
            }
        }
        return b.toString();
    }

    /** Runs a helper script; its stderr goes to ours; returns its stdout lines. */
    private static List<String> exec(List<String> cmd, long timeoutSeconds) throws IOException, InterruptedException {
        return exec(cmd, Map.of(), timeoutSeconds);
    }

    /** As {@link #exec(List, long)}, with {@code env} added to the script's environment. */
    static List<String> exec(List<String> cmd, Map<String, String> env, long timeoutSeconds)
            throws IOException, InterruptedException {
        Path out = Files.createTempFile("suite-root", ".out");
        try {
            ProcessBuilder pb = new ProcessBuilder(cmd).redirectOutput(out.toFile())
                    .redirectError(ProcessBuilder.Redirect.INHERIT);
            pb.environment().putAll(env);
            Process p = pb.start();
            if (!p.waitFor(timeoutSeconds, TimeUnit.SECONDS)) {
                p.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
                throw new IllegalStateException(String.join(" ", cmd) + " did not finish in " + timeoutSeconds + " s");
            }
            if (p.exitValue() != 0) {
                throw new IllegalStateException(String.join(" ", cmd) + " failed with exit code " + p.exitValue());
            }
            return Files.readAllLines(out);
        } finally {
            Files.deleteIfExists(out);
        }
    }

    static void copyTree(Path from, Path to) throws IOException {
        try (var s = Files.walk(from)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                Path t = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(t);
                } else {
                    Files.createDirectories(t.getParent());
                    Files.copy(p, t, StandardCopyOption.REPLACE_EXISTING);
                }
            }
        }
    }

    static void deleteTree(Path dir) throws IOException {
        Files.walkFileTree(dir, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                Files.delete(file);
                return FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult postVisitDirectory(Path d, IOException e) throws IOException {
                if (e != null) {
                    throw e;
                }
                Files.delete(d);
                return FileVisitResult.CONTINUE;
            }
        });
    }

    /**
     * A child process (a JVM on the host, or the chroot chain above) whose stdin the test
     * controls: started with {@code -Ddemo.await-go=traffic}, the child waits for one line
     * before its traffic, which is sent once a stderr line satisfies {@code ready} (the agent's
     * "hooked" line of the library under test). Always stopped by pid.
     */
    static final class Child {
        /** What a finished child printed and returned. */
        record Result(long pid, int exitCode, String stdout, String stderr, long millis) {
            List<String> agentLines() {
                return stderr.lines().filter(l -> l.startsWith("[btf-agent]")).toList();
            }

            /** The client's "key value" stdout lines. */
            Map<String, String> printed() {
                return ChildJvm.printedValues(stdout);
            }
        }

        private Child() {
        }

        /** How long a child may take to print its ready line. */
        static final long READY_SECONDS = 30;

        /**
         * Runs {@code cmd} with the given environment additions (BTF_AGENT_* and
         * JAVA_TOOL_OPTIONS removed). With {@code ready} set, fails, naming {@code readyWhat}, if
         * no stderr line satisfies it (and none says the agent's capture is ready) before the
         * child exits or {@link #READY_SECONDS} pass, or as soon as a line satisfies {@code refused}.
         */
        static Result run(List<String> cmd, Map<String, String> env, long timeoutSeconds, Predicate<String> ready,
                Predicate<String> refused, String readyWhat) throws IOException, InterruptedException {
            try (ChildProcess p = ChildProcess.start(cmd, env, ready != null)) {
                long deadline = ChildProcess.deadline(timeoutSeconds);
                if (ready != null) {
                    long readyDeadline = ChildProcess.deadline(Math.min(READY_SECONDS, timeoutSeconds));
                    // and the agent's "capture ready": the TLS stacks are woven too
                    p.awaitStderr(text -> text.lines().anyMatch(ready) && text.contains(WildflyCaptureIT.READY),
                            refused == null ? null : text -> text.lines().anyMatch(refused), readyDeadline,
                            "a line that says " + readyWhat, 20);
                    p.sendLine();
                    p.closeStdin();
                }
                int exit = p.awaitExit(deadline);
                return new Result(p.pid(), exit, p.stdout(), p.stderr(), p.millisSinceStart());
            }
        }
    }
}
