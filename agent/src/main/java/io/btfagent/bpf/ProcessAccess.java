package io.btfagent.bpf;

import java.io.IOException;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * What stands between a process and the kernel's BPF and perf interfaces, as far as it can be
 * read from outside the kernel: its capabilities (effective, permitted, bounding), a seccomp
 * filter, a user namespace (a rootless container), and the machine-wide
 * {@code kernel.unprivileged_bpf_disabled}, {@code kernel.perf_event_paranoid} and lockdown.
 * Used by the agent to say why {@code bpf()} or {@code perf_event_open()} was refused, and by
 * {@code doctor} to say so beforehand, for this process or another one ({@code /proc/<pid>}).
 *
 * @param effective the effective capability set
 * @param permitted the permitted set (what a process could raise to effective)
 * @param bounding the bounding set (what a container was given at all)
 * @param seccomp 0 none, 1 strict, 2 a filter ({@code Seccomp:} of status)
 * @param userNamespace the process runs in a user namespace other than the initial one
 * @param uid the real uid
 * @param unprivilegedBpfDisabled {@code kernel.unprivileged_bpf_disabled}, -1 unknown
 * @param perfEventParanoid {@code kernel.perf_event_paranoid}, Integer.MIN_VALUE unknown
 * @param lockdown the active lockdown mode ({@code none}, {@code integrity}, {@code confidentiality}), empty if unknown
 */
public record ProcessAccess(BigInteger effective, BigInteger permitted, BigInteger bounding, int seccomp,
        boolean userNamespace, int uid, int unprivilegedBpfDisabled, int perfEventParanoid, String lockdown) {
    static final int CAP_SYS_ADMIN = 21;
    static final int CAP_PERFMON = 38;
    static final int CAP_BPF = 39;
    static final int EPERM = 1;
    static final int EACCES = 13;

    /** The syscalls a seccomp profile must allow for capture. */
    public static final String SYSCALLS = "bpf and perf_event_open";

    /** This process. */
    public static ProcessAccess ofThisProcess() {
        return of(Path.of("/proc/self"));
    }

    /** The process whose proc directory is {@code proc} ({@code /proc/<pid>}, or /proc/self). */
    public static ProcessAccess of(Path proc) {
        return parse(read(proc.resolve("status")), read(proc.resolve("uid_map")),
                read(Path.of("/proc/sys/kernel/unprivileged_bpf_disabled")),
                read(Path.of("/proc/sys/kernel/perf_event_paranoid")), read(Path.of("/sys/kernel/security/lockdown")));
    }

    /** From the texts of {@code status}, {@code uid_map}, the two sysctls and the lockdown file ("" when unreadable). */
    static ProcessAccess parse(String status, String uidMap, String unprivilegedBpf, String paranoid, String lockdown) {
        BigInteger eff = BigInteger.ZERO;
        BigInteger prm = BigInteger.ZERO;
        BigInteger bnd = BigInteger.ZERO;
        int seccomp = 0;
        int uid = -1;
        for (String line : status.split("\n")) {
            String value = line.indexOf(':') > 0 ? line.substring(line.indexOf(':') + 1).trim() : "";
            try {
                if (line.startsWith("CapEff:")) {
                    eff = new BigInteger(value, 16);
                } else if (line.startsWith("CapPrm:")) {
                    prm = new BigInteger(value, 16);
                } else if (line.startsWith("CapBnd:")) {
                    bnd = new BigInteger(value, 16);
                } else if (line.startsWith("Seccomp:")) {
                    seccomp = Integer.parseInt(value);
                } else if (line.startsWith("Uid:")) {
                    uid = Integer.parseInt(value.split("\\s+")[0]);
                }
            } catch (NumberFormatException e) {
                // a field of another shape: left at its default
            }
        }
        // the initial user namespace maps every uid to itself: "0 0 4294967295"
        String map = uidMap.strip().replaceAll("\\s+", " ");
        boolean userNs = !map.isEmpty() && !map.equals("0 0 4294967295");
        String mode = "";
        int open = lockdown.indexOf('[');
        int close = lockdown.indexOf(']');
        if (open >= 0 && close > open) {
            mode = lockdown.substring(open + 1, close);
        }
        return new ProcessAccess(eff, prm, bnd, seccomp, userNs, uid, intOr(unprivilegedBpf, -1),
                intOr(paranoid, Integer.MIN_VALUE), mode);
    }

    /** CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN (which older kernels ask for instead), in the effective set. */
    public boolean canCapture() {
        return effective.testBit(CAP_SYS_ADMIN) || (effective.testBit(CAP_BPF) && effective.testBit(CAP_PERFMON));
    }

    /** CAP_SYS_ADMIN in the effective set: perf-event uprobes need it on kernels since 2025. */
    public boolean hasSysAdmin() {
        return effective.testBit(CAP_SYS_ADMIN);
    }

    /**
     * What certainly keeps this process from capturing, as one line with its fix, or empty.
     * A seccomp filter is not among them: whether it allows {@code bpf} shows only when it is
     * called ({@link #explain}).
     */
    public Optional<String> blocker() {
        if (userNamespace) {
            return Optional.of("this process runs in a user namespace (a rootless container, or one with userns "
                    + "remapping): the kernel allows BPF programs and uprobes only to the initial user namespace; run "
                    + "the container rootful (no user namespace) with CAP_BPF and CAP_PERFMON, or capture from a "
                    + "process outside it");
        }
        if (canCapture()) {
            return Optional.empty();
        }
        return Optional.of("this process lacks " + missing() + " (" + sets() + "); " + capabilityFix());
    }

    /**
     * "; refused because …" with the cause and fix when {@code e} is a BPF or perf call refused
     * with EPERM or EACCES, seen from this process; "" for anything else. Appended to the line
     * that reports the failure.
     */
    public static String cause(Throwable e) {
        if (e instanceof BpfException b && (b.errno() == EPERM || b.errno() == EACCES)) {
            return "; refused because " + ofThisProcess().explain(b.getMessage(), b.errno());
        }
        return "";
    }

    /**
     * Why {@code operation} (its message) failed with {@code errno} (EPERM or EACCES), from what
     * can be seen of this process: the causes with their fixes.
     */
    public String explain(String operation, int errno) {
        Optional<String> certain = blocker();
        if (certain.isPresent()) {
            return certain.get();
        }
        List<String> causes = new ArrayList<>();
        if (seccomp == 2) {
            causes.add("a seccomp filter (Seccomp: 2 in /proc/self/status) refuses it although the capabilities "
                    + "are there: allow the " + SYSCALLS + " syscalls in the container's seccomp profile (Docker and "
                    + "containerd's current default profiles allow them with CAP_BPF and CAP_PERFMON; podman 4's and "
                    + "older ones only with CAP_SYS_ADMIN), e.g. a profile of your own, or seccomp=unconfined");
        }
        if (operation.contains("uprobe") && operation.contains("perf event") && errno == EACCES && !hasSysAdmin()) {
            causes.add("this kernel creates a perf-event uprobe only for CAP_SYS_ADMIN (kernels since mid-2025); "
                    + "uprobe_multi links (kernel 6.6 or newer, attach.mode=auto) need only CAP_BPF and "
                    + "CAP_PERFMON, else add CAP_SYS_ADMIN");
        }
        if ("confidentiality".equals(lockdown)) {
            causes.add("the kernel is locked down (confidentiality, /sys/kernel/security/lockdown), which forbids "
                    + "BPF reads of kernel memory and perf events: boot with lockdown=integrity or none");
        }
        if (causes.isEmpty()) {
            causes.add("the capabilities are there (" + sets() + ") and no seccomp filter is set, so a security "
                    + "module (SELinux, AppArmor) or the container runtime refused it; check its audit log");
        }
        return String.join("; also ", causes);
    }

    /** The capabilities it lacks, by name. */
    private String missing() {
        List<String> m = new ArrayList<>();
        if (!effective.testBit(CAP_BPF)) {
            m.add("CAP_BPF");
        }
        if (!effective.testBit(CAP_PERFMON)) {
            m.add("CAP_PERFMON");
        }
        return String.join(" and ", m) + " (or CAP_SYS_ADMIN)";
    }

    /** The fix for missing capabilities: where they are lost decides it. */
    private String capabilityFix() {
        boolean inBounding = bounding.testBit(CAP_BPF) && bounding.testBit(CAP_PERFMON);
        if (!inBounding) {
            return "the container (or whatever started the JVM) withheld them: add them (podman/docker run "
                    + "--cap-add=BPF,PERFMON; Kubernetes securityContext.capabilities.add: [BPF, PERFMON])";
        }
        if (uid != 0) {
            return "they are allowed but a non-root JVM does not get them: give the java launcher file capabilities "
                    + "(setcap cap_bpf,cap_perfmon+ep on the java binary, in the image) or start the JVM with "
                    + "ambient capabilities (setpriv --inh-caps +bpf,+perfmon --ambient-caps +bpf,+perfmon)";
        }
        return "run the JVM with them effective (as root, or setcap cap_bpf,cap_perfmon+ep on the java binary)";
    }

    /** The three sets, in hex, as status shows them. */
    public String sets() {
        return "effective 0x" + effective.toString(16) + ", permitted 0x" + permitted.toString(16) + ", bounding 0x"
                + bounding.toString(16);
    }

    private static int intOr(String text, int fallback) {
        try {
            return Integer.parseInt(text.strip());
        } catch (NumberFormatException e) {
            return fallback;
        }
    }

    private static String read(Path p) {
        try {
            return Files.readString(p);
        } catch (IOException | RuntimeException e) {
            return "";
        }
    }
}
