package io.btfagent.runtime;

import io.btfagent.bpf.KernelFeatures;
import io.btfagent.bpf.ProcessAccess;
import io.btfagent.config.AgentConfig;
import io.btfagent.bpf.BtfMerger;
import io.btfagent.btf.BtfFile;
import io.btfagent.files.BoundedFile;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * The checks made before anything native is touched. Each failure is one line naming what is
 * missing and how to fix it; the agent then stays idle and the application runs as without it.
 */
public final class Preflight {
    private static final List<String> LIBBPF_CANDIDATES = List.of(
            "/usr/lib/x86_64-linux-gnu/libbpf.so.1", "/lib/x86_64-linux-gnu/libbpf.so.1",
            "/usr/lib64/libbpf.so.1", "/usr/lib/libbpf.so.1", "/lib64/libbpf.so.1");

    private Preflight() {
    }

    /** The reason capture cannot run here, or empty when it can. */
    static Optional<String> problem(AgentConfig config) {
        String os = System.getProperty("os.name", "").toLowerCase(Locale.ROOT);
        String arch = System.getProperty("os.arch", "");
        if (!os.contains("linux") || !(arch.equals("amd64") || arch.equals("x86_64"))) {
            return Optional.of("capture disabled: btf-agent needs Linux on x86_64, this JVM runs on " + os + "/" + arch
                    + "; remove the -javaagent option on this platform");
        }
        Path kernelBtf = Path.of(config.get("kernel.btf"));
        if (!Files.isReadable(kernelBtf)) {
            return Optional.of("capture disabled: kernel BTF " + kernelBtf + " is missing or unreadable (kernel "
                    + release() + "): use a kernel built with CONFIG_DEBUG_INFO_BTF=y (Debian, Ubuntu, "
                    + "RHEL and Amazon Linux kernels since 5.10 are), or point kernel.btf at a BTF file of this very "
                    + "kernel (e.g. from BTFHub)");
        }
        if (Files.isDirectory(Path.of(PMU_DIR)) && !Files.exists(Path.of(PMU_DIR, "uprobe"))) {
            return Optional.of("capture disabled: kernel " + release() + " has no uprobes (no " + PMU_DIR
                    + "/uprobe): use a kernel built with CONFIG_UPROBE_EVENTS=y (every distribution kernel since 5.10 "
                    + "is)");
        }
        try {
            // a device, a FIFO or a huge file here would stall or exhaust the JVM at the first merge
            BoundedFile.check(kernelBtf, BtfMerger.KERNEL_BTF_BOUND, "kernel BTF", BtfFile.HEADER_BYTES,
                    BtfFile::declaredLength);
        } catch (IOException e) {
            return Optional.of("capture disabled: " + e.getMessage() + "; point kernel.btf at the kernel's BTF "
                    + "(/sys/kernel/btf/vmlinux) or remove the setting");
        }
        Optional<String> caps = accessProblem(ProcessAccess.ofThisProcess());
        if (caps.isPresent()) {
            return caps;
        }
        String libbpf = config.get("libbpf.path");
        if (libbpf != null && !Files.isReadable(Path.of(libbpf))) {
            return Optional.of("capture disabled: libbpf.path " + libbpf + " is not a readable file; "
                    + "fix the path or remove the setting to use the agent's own libbpf");
        }
        return Optional.empty();
    }

    /** Where the kernel lists its perf event sources; uprobes are one since 4.17. */
    private static final String PMU_DIR = "/sys/bus/event_source/devices";

    /**
     * What this kernel's BPF lacks that the capture cannot do without, asked once libbpf is
     * bound: ring buffers (5.8). The features it can do without are {@link KernelFeatures}'.
     */
    static Optional<String> kernelProblem() {
        if (!KernelFeatures.ringBuffer()) {
            int errno = KernelFeatures.ringBufferErrno();
            if (errno == 1 || errno == 13) { // EPERM, EACCES: refused, which says nothing of the kernel
                String call = "bpf(BPF_MAP_CREATE, ringbuf) failed (errno " + errno + ")";
                return Optional.of("capture disabled: " + call + "; refused because "
                        + ProcessAccess.ofThisProcess().explain(call, errno) + "; the application runs without capture");
            }
            if (errno == 0) {
                return Optional.empty(); // libbpf's probe disagreed with a ring buffer that was made
            }
            return Optional.of("capture disabled: kernel " + release() + " has no BPF ring buffer (Linux 5.8+, "
                    + "BPF_MAP_TYPE_RINGBUF): use Linux 5.10 or newer");
        }
        return Optional.empty();
    }

    /** The running kernel's release, as uname -r says it. */
    static String release() {
        return System.getProperty("os.version", "?");
    }

    /**
     * What keeps this process from capturing (missing capabilities, a user namespace), as the
     * line that says why and how to fix it.
     */
    static Optional<String> accessProblem(ProcessAccess access) {
        return access.blocker().map(b -> "capture disabled: " + b + "; the application runs without capture");
    }

    /** The host's libbpf, for builds of the agent that do not carry their own. */
    static Optional<String> systemLibbpf() {
        return LIBBPF_CANDIDATES.stream().filter(p -> Files.isReadable(Path.of(p))).findFirst();
    }
}
