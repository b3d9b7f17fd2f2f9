package io.btfagent.it;

/**
 * A seccomp profile in the containers' JSON format made from podman's default one
 * (/usr/share/containers/seccomp.json) the way Docker's and containerd's current default
 * profiles treat BPF: {@code bpf} allowed with CAP_BPF, {@code perf_event_open} with
 * CAP_PERFMON (each still allowed with CAP_SYS_ADMIN), where podman 4 allows both only with
 * CAP_SYS_ADMIN and refuses them otherwise. A rule's {@code includes.caps} asks for all its
 * capabilities, hence one rule per capability.
 */
final class SeccompProfile {
    private SeccompProfile() {
    }

    static String allowingBpfForItsCapabilities(String podmanDefault) {
        String rules = rule("bpf", "CAP_BPF") + rule("bpf", "CAP_SYS_ADMIN") + rule("perf_event_open", "CAP_PERFMON")
                + rule("perf_event_open", "CAP_SYS_ADMIN");
        // both syscalls leave podman's own rules (an allow for CAP_SYS_ADMIN, an EPERM otherwise)
        String without = podmanDefault.replaceAll("(?m)^\\s*\"(bpf|perf_event_open)\",\\s*\\n", "");
        if (without.equals(podmanDefault) || !without.contains("\"syscalls\": [")) {
            throw new IllegalStateException("podman's seccomp profile has another shape than expected");
        }
        return without.replaceFirst("\"syscalls\": \\[", "\"syscalls\": [" + rules.replace("$", "\\$"));
    }

    private static String rule(String syscall, String cap) {
        return "\n{\"names\": [\"" + syscall + "\"], \"action\": \"SCMP_ACT_ALLOW\", \"args\": [], \"comment\": \"\", "
                + "\"includes\": {\"caps\": [\"" + cap + "\"]}, \"excludes\": {}},";
    }
}
