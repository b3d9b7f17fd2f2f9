package io.btfagent.cli;

import io.btfagent.bpf.CaptureObject;
import io.btfagent.bpf.KernelFeatures;
import io.btfagent.bpf.ProcessAccess;
import io.btfagent.btf.BtfCatalog;
import io.btfagent.btf.BtfSelection;
import io.btfagent.config.AgentConfig;
import io.btfagent.natives.NativeFiles;
import io.btfagent.runtime.NativeBinding;
import io.btfagent.tls.LibraryScanner;
import io.btfagent.tls.TlsLibrary;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;

/**
 * {@code doctor [<pid>] [key=value,...]}: says, without changing anything, whether capture
 * would work on this machine (and in JVM {@code pid}), one line per check with ✓ or ✗ and, for
 * ✗, the fix. Lines marked · are facts that do not decide it. Exit status 0 only when every
 * check passes.
 */
final class Doctor {
    static final String OK = "✓";
    static final String BAD = "✗";
    static final String INFO = "·";

    /** Kernel functions whose presence shows a feature, with the version that brought it. */
    private static final String RINGBUF = "bpf_ringbuf_reserve";
    private static final String COOKIE = "bpf_get_attach_cookie_trace";
    private static final String LOOP = "bpf_loop";
    private static final String UPROBE_MULTI = "bpf_uprobe_multi_link_attach";

    private final List<String> lines = new ArrayList<>();
    private boolean failed;
    /** A JVM under a seccomp filter whose rules /proc does not show. */
    private boolean seccomp;

    private void ok(String text) {
        lines.add(OK + " " + text);
    }

    private void info(String text) {
        lines.add(INFO + " " + text);
    }

    /** A failed check; {@code fix} null when the text already says what to do. */
    private void bad(String text, String fix) {
        lines.add(BAD + " " + text + (fix == null ? "" : "; fix: " + fix));
        failed = true;
    }

    /** Runs every check, prints one line each, and returns the exit status. */
    static int run(Optional<TargetProcess> target, String options, PrintStream out) throws IOException {
        Doctor d = new Doctor();
        d.check(target, options);
        d.lines.forEach(out::println);
        out.println(d.failed ? "capture would not work: fix the lines marked " + BAD
                : "capture would work" + target.map(t -> " in pid " + t.pid).orElse(" here")
                        + (d.seccomp && target.isPresent() ? " if its seccomp filter allows " + ProcessAccess.SYSCALLS
                                + " (run doctor inside its container to try it)" : ""));
        return d.failed ? 1 : 0;
    }

    private void check(Optional<TargetProcess> target, String options) throws IOException {
        String os = System.getProperty("os.name", "");
        String arch = System.getProperty("os.arch", "");
        if (!os.equalsIgnoreCase("linux") || !(arch.equals("amd64") || arch.equals("x86_64"))) {
            bad("platform " + os + "/" + arch, "btf-agent runs on Linux x86_64 only");
            return;
        }
        AgentConfig config;
        if (target.isPresent()) {
            Properties props = target.get().systemProperties();
            config = AgentConfig.resolve(options, props, target.get().environ());
        } else {
            config = AgentConfig.fromAgentArgs(options);
        }
        config.validate();
        config.problems().forEach(p -> bad("configuration: " + p, "correct the setting"));
        kernel(config);
        access("this process (" + TargetProcess.userName(NativeFiles.uid()) + ")", ProcessAccess.ofThisProcess(),
                target.isEmpty());
        ProcessAccess self = ProcessAccess.ofThisProcess();
        if (target.isEmpty() && self.seccomp() == 2 && self.blocker().isEmpty()) {
            bpfCall(config);
        }
        if (target.isEmpty()) {
            nativeDir(config, Path.of(System.getProperty("java.io.tmpdir", "/tmp")), NativeFiles.uid(),
                    Files.readString(Path.of("/proc/self/mountinfo")), null);
            return;
        }
        TargetProcess t = target.get();
        Optional<String> attach = AgentChannel.attachProblem(t);
        if (attach.isPresent()) {
            bad(attach.get(), null);
        } else {
            ok("pid " + t.pid + " is a HotSpot JVM of user " + TargetProcess.userName(t.uid())
                    + " that this user can attach to" + (t.otherMountNamespace()
                    ? " (in another mount namespace: the jar is copied to its /tmp)" : ""));
        }
        if (Files.exists(t.seen("/tmp/.btf-agent-" + t.namespacePid() + "/control.sock"))) {
            info("btf-agent already runs in pid " + t.pid + ": 'status " + t.pid + "' shows it");
        }
        access("pid " + t.pid + " (" + TargetProcess.userName(t.uid()) + ")", ProcessAccess.of(t.procFile("")), true);
        String tmpdir = t.systemProperties().getProperty("java.io.tmpdir", "/tmp");
        nativeDir(config, Path.of(tmpdir), t.uid(), Files.readString(t.procFile("mountinfo")), t);
        try {
            libraries(t, config);
            stacks(t);
            jsse(t, config);
        } catch (java.nio.file.AccessDeniedException e) {
            bad("cannot read " + e.getFile() + " of pid " + t.pid, "run doctor as the JVM's user or as root");
        }
    }

    private void kernel(AgentConfig config) {
        String release = read("/proc/sys/kernel/osrelease").strip();
        Set<String> symbols = kernelSymbols();
        // asked of the kernel itself (helper probes, test loads) where this process may load BPF,
        // else read off /proc/kallsyms; never from the version: vendors backport BPF features
        Optional<KernelFeatures> probed = probedFeatures(config);
        boolean ringbuf = probed.isPresent() ? KernelFeatures.ringBuffer() : symbols.isEmpty() || symbols.contains(RINGBUF);
        boolean uprobes = !Files.isDirectory(Path.of("/sys/bus/event_source/devices"))
                || Files.exists(Path.of("/sys/bus/event_source/devices/uprobe"));
        String how = probed.isPresent() ? "asked the kernel" : symbols.isEmpty() ? "assumed: cannot load BPF or read "
                + "/proc/kallsyms here" : "from /proc/kallsyms; run doctor as root to ask the kernel";
        if (ringbuf && uprobes) {
            ok("kernel " + release + ": uprobes and BPF ring buffers, all the capture needs (" + how + ")");
        }
        if (!ringbuf) {
            bad("kernel " + release + " has no BPF ring buffer (Linux 5.8+)", "use Linux 5.10 or newer");
        }
        if (!uprobes) {
            bad("kernel " + release + " has no uprobes (no /sys/bus/event_source/devices/uprobe)",
                    "use a kernel built with CONFIG_UPROBE_EVENTS=y (every distribution kernel since 5.10 is)");
        }
        KernelFeatures f = probed.orElseGet(() -> new KernelFeatures(symbols.isEmpty() || symbols.contains(COOKIE),
                symbols.isEmpty() || symbols.contains(LOOP), CaptureObject.kernelAtLeast(release, 5, 12)));
        if (f.missing().isEmpty()) {
            ok("BPF features: attach cookies, bpf_loop, fetching atomics (" + how + ")");
        } else {
            info("kernel " + release + " lacks " + String.join(", ", f.missing()) + ": the agent captures the same "
                    + "events with " + f.mode() + " (" + how + ")");
        }
        boolean multi = f.attachCookie() && CaptureObject.uprobeMultiKernel(release)
                && (symbols.isEmpty() || symbols.contains(UPROBE_MULTI));
        String mode = config.get("attach.mode") == null ? "auto" : config.get("attach.mode");
        if (multi) {
            ok("uprobe_multi links (kernel 6.10 or newer): one link per program and library"
                    + (mode.equals("single") ? ", but attach.mode=single uses single uprobes" : ""));
        } else if (mode.equals("multi")) {
            bad("attach.mode=multi but this kernel has no usable uprobe_multi (6.10 or newer)",
                    "remove attach.mode or set it to auto");
        } else {
            info("no usable uprobe_multi (kernel 6.10 or newer, with attach cookies): single uprobes are used (detach "
                    + "takes longer)");
        }
        Path btf = Path.of(config.get("kernel.btf"));
        try {
            if (Files.isReadable(btf) && Files.size(btf) > 0) {
                ok("kernel BTF " + btf + " (" + Files.size(btf) / 1024 + " KiB)");
            } else {
                bad("kernel BTF " + btf + " is missing or unreadable (kernel " + release + ")",
                        "use a kernel built with CONFIG_DEBUG_INFO_BTF=y, or point kernel.btf at a BTF file of this "
                                + "very kernel (e.g. from BTFHub)");
            }
        } catch (IOException e) {
            bad("kernel BTF " + btf + ": " + e.getMessage(), "point kernel.btf at a readable vmlinux BTF file");
        }
    }

    /** The kernel's BPF features as the agent would probe them, or empty when this process cannot load BPF. */
    private static Optional<KernelFeatures> probedFeatures(AgentConfig config) {
        if (ProcessAccess.ofThisProcess().blocker().isPresent()) {
            return Optional.empty(); // it could not load BPF: nothing is written to find that out
        }
        try {
            if (NativeBinding.tryBpfCall(config).isPresent()) { // binds libbpf too
                return Optional.empty();
            }
            return Optional.of(KernelFeatures.probe(Set.copyOf(config.list("kernel.assume-missing"))));
        } catch (RuntimeException | LinkageError e) {
            return Optional.empty();
        }
    }

    private static Set<String> kernelSymbols() {
        Set<String> wanted = Set.of(RINGBUF, COOKIE, LOOP, UPROBE_MULTI);
        Set<String> found = new HashSet<>();
        try (var lines = Files.lines(Path.of("/proc/kallsyms"))) {
            lines.forEach(l -> {
                int sp = l.lastIndexOf(' ');
                if (sp > 0 && wanted.contains(l.substring(sp + 1))) {
                    found.add(l.substring(sp + 1));
                }
            });
        } catch (IOException | RuntimeException e) {
            return Set.of();
        }
        return found;
    }

    /**
     * The capabilities, user namespace and seccomp filter of {@code who}: its own, for a JVM, are
     * what decide, since the agent runs inside it whether started with -javaagent or attached.
     */
    private void access(String who, ProcessAccess a, boolean decides) {
        String text = "capabilities of " + who + ": " + a.sets();
        Optional<String> blocker = a.blocker();
        if (blocker.isEmpty()) {
            ok(text + " (CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN)");
        } else if (decides) {
            bad("capabilities of " + who + ": " + blocker.get().replaceFirst("^this process ", ""), null);
        } else {
            info(text + " (" + blocker.get().replaceFirst("^this process ", "") + "; only the JVM's own count)");
        }
        if (a.seccomp() == 2 && decides) {
            seccomp = true;
            info(who + " runs under a seccomp filter: capture there needs it to allow the " + ProcessAccess.SYSCALLS
                    + " syscalls (Docker's and containerd's current default profiles do with CAP_BPF and CAP_PERFMON, "
                    + "podman 4's only with CAP_SYS_ADMIN); the agent names the filter if it refuses them");
        }
        if (a.blocker().isEmpty() && !a.hasSysAdmin() && decides) {
            info(who + " lacks CAP_SYS_ADMIN: kernels since mid-2025 create perf-event uprobes only with it, so "
                    + "probes attach as uprobe_multi links (kernel 6.6 or newer, attach.mode auto or multi)");
        }
    }

    /**
     * Under a seccomp filter (inside a container, doctor runs under the JVM's filter and
     * capabilities), one harmless bpf() call (a one-slot array, closed at once) shows whether the
     * filter lets it through, which /proc cannot tell. It binds the natives as the agent would,
     * in native.dir: the one thing doctor writes, and only then.
     */
    private void bpfCall(AgentConfig config) {
        Optional<String> refused;
        try {
            refused = NativeBinding.tryBpfCall(config);
        } catch (Throwable e) {
            info("could not try a bpf() call here (" + e + ")");
            return;
        }
        if (refused.isEmpty()) {
            ok("a bpf() call from this process went through");
        } else {
            bad("a bpf() call from this process was refused: " + refused.get(), null);
        }
    }

    private void nativeDir(AgentConfig config, Path tmpdir, String uid, String mountinfo, TargetProcess t) {
        String configured = config.get("native.dir");
        Path dir = configured != null ? Path.of(configured) : tmpdir.resolve("btf-agent-" + uid);
        Path seen = t == null ? dir : t.seen(dir.toString());
        Optional<String> problem = NativeFiles.dirProblem(dir, seen, uid);
        if (problem.isEmpty()) {
            problem = NativeFiles.noexecProblem(dir, mountinfo);
        }
        if (problem.isPresent()) {
            bad(problem.get(), "set native.dir to a directory of uid " + uid
                    + " (mode 700) on a file system that allows executables");
        } else {
            ok("native.dir " + dir + (Files.exists(seen) ? " is owner-only, of uid " + uid : " can be created by uid " + uid)
                    + ", on a file system that allows executables");
        }
        String libbpf = config.get("libbpf.path");
        if (libbpf != null && !Files.isReadable(t == null ? Path.of(libbpf) : t.seen(libbpf))) {
            bad("libbpf.path " + libbpf + " is not a readable file", "fix the path or remove the setting");
        }
    }

    /** One mapped file: its path as the process sees it, and one of its address ranges. */
    private record Mapped(String path, boolean deleted, String range) {
    }

    private void libraries(TargetProcess t, AgentConfig config) throws IOException {
        Map<String, Mapped> files = new LinkedHashMap<>();
        for (String line : t.maps().split("\n")) {
            String[] f = line.trim().split("\\s+", 6);
            if (f.length < 6 || !f[5].startsWith("/")) {
                continue;
            }
            boolean deleted = f[5].endsWith(" (deleted)");
            String path = deleted ? f[5].substring(0, f[5].length() - " (deleted)".length()) : f[5];
            String name = Path.of(path).getFileName().toString();
            if (LibraryScanner.family(name).isPresent() || name.startsWith("libnetty_tcnative")
                    || name.contains("netty_tcnative")) {
                files.putIfAbsent(f[3] + ":" + f[4], new Mapped(path, deleted, f[0]));
            }
        }
        if (files.isEmpty()) {
            info("pid " + t.pid + " has no TLS library mapped yet; on attach the agent hooks those in watch.paths "
                    + "and finds later ones within scan.interval-ms");
            return;
        }
        String btfPath = config.get("btf.path");
        BtfCatalog catalog = BtfCatalog.bundled(btfPath == null ? null : t.seen(btfPath));
        boolean fallback = "version-line".equals(config.word("btf.fallback"));
        List<String> families = config.list("libraries");
        for (Mapped m : files.values()) {
            String name = Path.of(m.path()).getFileName().toString();
            String where = m.path() + (m.deleted() ? " (deleted)" : "");
            // netty-tcnative's library carries BoringSSL linked in: told by name here, by content when read
            Optional<String> family = LibraryScanner.family(name).or(() -> Optional.of("boringssl"));
            // a deleted file is still reachable through the mapping itself
            Path file = m.deleted() ? t.procFile("map_files/" + m.range()) : t.seen(m.path());
            TlsLibrary lib;
            try {
                lib = TlsLibrary.open(file, family.get());
            } catch (IOException e) {
                bad(family.get() + " at " + where + ": " + e.getMessage(), "this file cannot be hooked");
                continue;
            }
            if (!families.isEmpty() && !families.contains(lib.family())) {
                info(lib.family() + " at " + where + ", build-id " + lib.buildId() + ": not hooked, libraries="
                        + String.join(",", families) + " leaves it out");
                continue;
            }
            // the agent's own rules, so that the line says what the agent would do
            BtfSelection.Outcome outcome = BtfSelection.select(catalog, lib.family(), lib.buildId(),
                    lib::reportedVersion, fallback, debug -> { });
            if (outcome instanceof BtfSelection.Chosen chosen) {
                ok(lib.family() + " " + chosen.selection().version() + " at " + where + ", build-id " + lib.buildId()
                        + ": BTF " + chosen.selection().origin() + (chosen.guarded()
                        ? " (not known to be made for this build: every record is checked before it is reported)"
                        : chosen.selection().checked() ? " (from btf.path, trusted as this build's)" : "")
                        + chosen.passedOver().map(why -> "; passed over " + why).orElse(""));
            } else {
                BtfSelection.Refused refused = (BtfSelection.Refused) outcome;
                bad(lib.family() + " " + refused.version().orElse("(version unknown)") + " at " + where
                        + ", build-id " + lib.buildId() + ": " + refused.reason(), null);
            }
        }
    }

    /** JVM stacks that drive a native TLS library, told by jar and library names. */
    private static final Map<String, String> STACKS = Map.of(
            "wildfly-openssl", "wildfly-openssl (the system's libssl, from org.wildfly.openssl.path)",
            "netty-tcnative-boringssl-static", "netty-tcnative-boringssl-static (BoringSSL linked into its own library)",
            "netty-tcnative", "netty-tcnative (OpenSSL through JNI)",
            "grpc-netty-shaded", "grpc-netty-shaded (its own netty-tcnative BoringSSL)",
            "tomcat-embed-core", "Tomcat (OpenSSL through tcnative, or FFM on Java 22+, when its connector uses OpenSSL)",
            "catalina", "Tomcat (OpenSSL through tcnative, or FFM on Java 22+, when its connector uses OpenSSL)",
            "libtcnative-1", "Tomcat Native (libtcnative-1, the system's OpenSSL)");

    private void stacks(TargetProcess t) throws IOException {
        List<String> names = new ArrayList<>();
        t.classPath().forEach(names::add);
        names.addAll(t.openJars());
        t.maps().lines().filter(l -> l.contains("libtcnative-1")).findFirst().ifPresent(names::add);
        Map<String, String> found = new LinkedHashMap<>();
        for (String n : names) {
            String file = n.substring(n.lastIndexOf('/') + 1);
            STACKS.keySet().stream().filter(file::startsWith)
                    .max(java.util.Comparator.comparingInt(String::length))
                    .ifPresent(k -> found.putIfAbsent(STACKS.get(k), file));
        }
        if (found.isEmpty()) {
            info("no JVM stack that uses a native TLS library on pid " + t.pid + "'s class path, open jars or mapped "
                    + "libraries");
        }
        found.forEach((stack, file) -> info("JVM stack: " + stack + " (" + file + ")"));
    }

    /** The JDK's own TLS, which the agent captures inside the JVM unless libraries= leaves it out. */
    private void jsse(TargetProcess t, AgentConfig config) throws IOException {
        String version = "(version unknown)";
        try {
            // <java.home>/bin/java -> <java.home>/release: JAVA_VERSION="17.0.15"
            Path exe = Files.readSymbolicLink(t.procFile("exe"));
            Path release = t.seen(exe.getParent().getParent().resolve("release").toString());
            for (String l : Files.readAllLines(release)) {
                if (l.startsWith("JAVA_VERSION=")) {
                    version = l.substring("JAVA_VERSION=".length()).replace("\"", "");
                }
            }
        } catch (IOException | RuntimeException e) {
            // the version is only told
        }
        List<String> families = config.list("libraries");
        if (families.isEmpty() || families.contains("jsse")) {
            ok("JSSE, the JDK's own TLS (Java " + version + "): captured in the JVM (SSLEngine wrap/unwrap, "
                    + "SSLSocket streams; also Conscrypt's and BouncyCastle's when loaded; lib jsse)");
        } else {
            info("JSSE, the JDK's own TLS (Java " + version + "): not captured, libraries="
                    + String.join(",", families) + " leaves it out");
        }
    }

    private static String read(String path) {
        try {
            return Files.readString(Path.of(path));
        } catch (IOException e) {
            return System.getProperty("os.version", "");
        }
    }
}
