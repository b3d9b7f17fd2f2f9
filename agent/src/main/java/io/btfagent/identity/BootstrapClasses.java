package io.btfagent.identity;

import java.io.IOException;
import java.io.InputStream;
import java.lang.instrument.Instrumentation;
import java.lang.reflect.Method;
import java.security.ProtectionDomain;
import java.util.List;
import java.util.Map;
import java.util.Set;
import net.bytebuddy.dynamic.ClassFileLocator;

/**
 * Puts the agent's bridge classes ({@code io.btfagent.bootstrap}) into the bootstrap class
 * loader, where code woven into any application or JDK class finds them. Must run before any
 * class of the agent's loader refers to them, or that loader would define its own copy.
 */
public final class BootstrapClasses {
    private BootstrapClasses() {
    }

    /**
     * Defines {@code classes} (binary names, supertypes first) in the bootstrap loader, unless
     * it has them already. Through {@code jdk.internal.misc.Unsafe.defineClass}, opened to the
     * agent alone with {@link Instrumentation#redefineModule}: appending a jar to the bootstrap
     * class path instead would make the JVM print a warning (class data sharing turns off for
     * the application's classes) into the application's output.
     */
    public static void inject(Instrumentation inst, List<String> classes) throws Exception {
        Module base = Object.class.getModule();
        Module agent = BootstrapClasses.class.getModule();
        inst.redefineModule(base, Set.of(), Map.of("jdk.internal.misc", Set.of(agent)), Map.of(), Set.of(),
                Map.of());
        Class<?> unsafeClass = Class.forName("jdk.internal.misc.Unsafe");
        Object unsafe = unsafeClass.getMethod("getUnsafe").invoke(null);
        Method define = unsafeClass.getMethod("defineClass", String.class, byte[].class, int.class, int.class,
                ClassLoader.class, ProtectionDomain.class);
        ClassFileLocator locator = agentClasses();
        for (String name : classes) {
            if (inBootstrap(name)) {
                continue;
            }
            byte[] b = locator.locate(name).resolve();
            define.invoke(unsafe, name, b, 0, b.length, null, null);
        }
    }

    private static boolean inBootstrap(String name) {
        try {
            Class.forName(name, false, null);
            return true;
        } catch (ClassNotFoundException e) {
            return false;
        }
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
