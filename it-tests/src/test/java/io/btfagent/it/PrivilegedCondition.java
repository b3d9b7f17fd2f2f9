package io.btfagent.it;

import java.io.IOException;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.extension.ConditionEvaluationResult;
import org.junit.jupiter.api.extension.ExecutionCondition;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Enables {@link Privileged} tests where BPF capture can work: Linux x86_64, kernel BTF, and
 * CAP_BPF+CAP_PERFMON (or CAP_SYS_ADMIN). With {@code BTF_AGENT_REQUIRE_PRIVILEGED=1} (set by
 * CI, which runs as root on a capable kernel) a missing capability is a failure, not a skip.
 */
public final class PrivilegedCondition implements ExecutionCondition {
    @Override
    public ConditionEvaluationResult evaluateExecutionCondition(ExtensionContext context) {
        String missing = missing();
        if (missing == null) {
            return ConditionEvaluationResult.enabled("BPF capture possible here");
        }
        if ("1".equals(System.getenv("BTF_AGENT_REQUIRE_PRIVILEGED"))) {
            throw new IllegalStateException("BTF_AGENT_REQUIRE_PRIVILEGED=1 but " + missing);
        }
        return ConditionEvaluationResult.disabled("needs BPF: " + missing);
    }

    static String missing() {
        if (!System.getProperty("os.name").toLowerCase().contains("linux")
                || !System.getProperty("os.arch").equals("amd64")) {
            return "not Linux x86_64";
        }
        if (!Files.isReadable(Path.of("/sys/kernel/btf/vmlinux"))) {
            return "no kernel BTF at /sys/kernel/btf/vmlinux";
        }
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("CapEff:")) {
                    BigInteger eff = new BigInteger(line.substring(7).trim(), 16);
                    if (eff.testBit(21) || (eff.testBit(38) && eff.testBit(39))) {
                        return null;
                    }
                    return "the test runner lacks CAP_BPF+CAP_PERFMON (run as root)";
                }
            }
        } catch (IOException e) {
            return "cannot read /proc/self/status: " + e;
        }
        return "no CapEff line in /proc/self/status";
    }
}
