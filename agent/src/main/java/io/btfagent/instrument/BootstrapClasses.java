package io.btfagent.instrument;

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
 * loader, where code woven into any application or JDK class finds them, and reads the agent's
 * own class files for byte-buddy. Must run before any class of the agent's loader refers to a
 * bridge, or that loader would define its own copy.
 */
public final class BootstrapClasses {
    private BootstrapClasses() {
    }

    /**
     * Defines {@code classes} (binary names, supertypes first) in the bootstrap loader, unless
     * it has them already; the isolated loader delegates to its parents first, so from then on
     * the agent sees the bootstrap copies too. Through {@code jdk.internal.misc.Unsafe.defineClass},
     * opened to the agent alone with {@link Instrumentation#redefineModule}: appending a jar to
     * the bootstrap class path instead would make the JVM print a warning (class data sharing
     * turns off for the application's classes) into the application's output, and
     * {@code sun.misc.Unsafe} (what byte-buddy's injector uses) a deprecation warning on JDK 24
     * and newer.
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
            ClassFileLocator.Resolution found = locator.locate(name);
            if (!found.isResolved()) {
                throw new IOException("the agent lacks the class " + name);
            }
            byte[] b = found.resolve();
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

    /** The agent's own class files, read through its class loader (the agent jar's archive or a build directory). */
    public static ClassFileLocator agentClasses() {
        ClassLoader loader = BootstrapClasses.class.getClassLoader();
        return new ClassFileLocator() {
            @Override
            public Resolution locate(String name) throws IOException {
                try (InputStream in = loader.getResourceAsStream(name.replace('.', '/') + ".class")) {
                    return in != null ? new Resolution.Explicit(in.readAllBytes()) : new Resolution.Illegal(name);
                }
            }

            @Override
            public void close() {
            }
        };
    }
}
