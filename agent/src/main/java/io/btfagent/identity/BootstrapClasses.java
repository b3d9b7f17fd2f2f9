package io.btfagent.identity;

import java.io.IOException;
import java.io.InputStream;
import java.lang.instrument.Instrumentation;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import net.bytebuddy.dynamic.ClassFileLocator;
import net.bytebuddy.dynamic.loading.ClassInjector;

/**
 * Puts the agent's bridge classes ({@code io.btfagent.bootstrap}) into the bootstrap class
 * loader, where code woven into any application or JDK class finds them. Must run before any
 * class of the agent's loader refers to them, or that loader would define its own copy.
 */
public final class BootstrapClasses {
    private BootstrapClasses() {
    }

    /** Injects {@code classes} (binary names) through a jar written to {@code dir} (owner-only). */
    public static void inject(Instrumentation inst, Path dir, List<String> classes) throws IOException {
        Map<String, byte[]> bytes = new LinkedHashMap<>();
        ClassFileLocator locator = agentClasses();
        for (String name : classes) {
            bytes.put(name, locator.locate(name).resolve());
        }
        ClassInjector.UsingInstrumentation.of(dir.toFile(), ClassInjector.UsingInstrumentation.Target.BOOTSTRAP, inst)
                .injectRaw(bytes);
    }

    /**
     * The agent's own class files: stored as {@code .classdata} in the agent jar (so that no
     * other loader finds them), as {@code .class} when run from a build directory.
     */
    static ClassFileLocator agentClasses() {
        ClassLoader loader = BootstrapClasses.class.getClassLoader();
        return new ClassFileLocator() {
            @Override
            public Resolution locate(String name) throws IOException {
                String path = name.replace('.', '/');
                for (String suffix : new String[] {".classdata", ".class"}) {
                    try (InputStream in = loader.getResourceAsStream(path + suffix)) {
                        if (in != null) {
                            return new Resolution.Explicit(in.readAllBytes());
                        }
                    }
                }
                return new Resolution.Illegal(name);
            }

            @Override
            public void close() {
            }
        };
    }
}
