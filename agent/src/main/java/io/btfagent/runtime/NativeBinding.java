package io.btfagent.runtime;

import ch.qos.logback.classic.Logger;
import io.btfagent.bpf.BpfMap;
import io.btfagent.bpf.ProcessAccess;
import io.btfagent.bpf.internal.LibC;
import io.btfagent.bpf.internal.Libbpf;
import io.btfagent.bpf.internal.NativesBound;
import io.btfagent.config.AgentConfig;
import io.btfagent.natives.NativeFiles;
import java.io.IOException;
import java.net.URL;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.function.BiConsumer;

/**
 * Binds JNA and libbpf: extracts the bundled natives into {@code native.dir} (or takes
 * {@code libbpf.path}, or the system's libbpf) and leaves the JVM's {@code jna.*} properties as
 * they were, so the application's own JNA never sees ours.
 */
public final class NativeBinding {
    private static final String JNA_DISPATCH = "com/sun/jna/linux-x86-64/libjnidispatch.so";
    private static final String BUNDLED_LIBBPF = "io/btfagent/natives/libbpf.so";
    private static final List<String> JNA_GLOBALS = List.of("jna.loaded", "jnidispatch.path", "jna.platform.library.path");

    private NativeBinding() {
    }

    private static Path nativeDir(AgentConfig config) {
        String configured = config.get("native.dir");
        return configured == null ? NativeFiles.defaultDir() : Path.of(configured);
    }

    /**
     * Extracts the native libraries into {@code native.dir} and binds JNA and libbpf to them.
     * Returns the reason it could not, as one line.
     */
    @SuppressWarnings("unchecked")
    static Optional<String> bind(AgentConfig config, Logger log) {
        Path dir = nativeDir(config);
        ClassLoader loader = NativeBinding.class.getClassLoader();
        try {
            NativeFiles.prepareDir(dir);
            Optional<String> noexec = NativeFiles.noexecProblem(dir, Files.readString(Path.of("/proc/self/mountinfo")));
            if (noexec.isPresent()) {
                return Optional.of("capture disabled: " + noexec.get());
            }
            Path dispatch = NativeFiles.extract(loader, JNA_DISPATCH, dir);
            if (loader instanceof BiConsumer) {
                ((BiConsumer<String, URL>) loader).accept(JNA_DISPATCH, dispatch.toUri().toURL());
            }
            String libbpf = config.get("libbpf.path");
            if (libbpf == null) {
                libbpf = loader.getResource(BUNDLED_LIBBPF) != null
                        ? NativeFiles.extract(loader, BUNDLED_LIBBPF, dir).toString()
                        : Preflight.systemLibbpf().orElse(null);
            }
            if (libbpf == null) {
                return Optional.of("capture disabled: this agent build carries no libbpf and none is installed; "
                        + "set libbpf.path or install libbpf1");
            }
            bindKeepingJvmProperties(libbpf);
            NativesBound.mark();
            if (log != null) {
                log.debug("natives: JNA dispatch {}, libbpf {}", dispatch, libbpf);
            }
            return Optional.empty();
        } catch (IOException e) {
            return Optional.of("capture disabled: cannot prepare native libraries in " + dir + ": " + e.getMessage()
                    + "; set native.dir to a writable directory of your own");
        } catch (UnsatisfiedLinkError e) {
            return Optional.of("capture disabled: cannot load native libraries from " + dir + " (" + e.getMessage()
                    + "); set native.dir to a directory on a file system that allows executables");
        }
    }

    /**
     * Binds the natives as the agent would and makes one harmless bpf() call (a one-slot array
     * map, closed at once): whether a seccomp filter or anything else refuses it shows only so.
     * Returns why it was refused, with the cause and fix, or empty when it went through.
     */
    public static Optional<String> tryBpfCall(AgentConfig config) {
        Optional<String> unbound = bind(config, null);
        if (unbound.isPresent()) {
            return unbound;
        }
        int fd = Libbpf.bpf_map_create(BpfMap.BPF_MAP_TYPE_ARRAY, "btf_agent_try", 4, 4, 1, null);
        if (fd >= 0) {
            LibC.close(fd);
            return Optional.empty();
        }
        String call = "bpf(BPF_MAP_CREATE) failed (errno " + -fd + ")";
        return Optional.of(call + "; refused because " + ProcessAccess.ofThisProcess().explain(call, -fd));
    }

    /**
     * JNA's class initialisation sets JVM-wide system properties ({@code jna.loaded},
     * {@code jnidispatch.path}, {@code jna.platform.library.path}); the application's own JNA
     * would see ours. Put back what was there before.
     */
    private static void bindKeepingJvmProperties(String libbpf) {
        Map<String, String> before = new LinkedHashMap<>();
        for (String k : JNA_GLOBALS) {
            before.put(k, System.getProperty(k));
        }
        try {
            Libbpf.bind(libbpf);
        } finally {
            before.forEach((k, v) -> {
                if (v == null) {
                    System.clearProperty(k);
                } else {
                    System.setProperty(k, v);
                }
            });
        }
    }
}
