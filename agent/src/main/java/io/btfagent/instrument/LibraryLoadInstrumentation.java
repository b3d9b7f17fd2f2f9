package io.btfagent.instrument;

import java.lang.instrument.Instrumentation;
import java.util.List;
import java.util.function.Consumer;
import net.bytebuddy.agent.builder.AgentBuilder;
import net.bytebuddy.asm.Advice;
import net.bytebuddy.description.type.TypeDescription;
import net.bytebuddy.dynamic.ClassFileLocator;
import net.bytebuddy.utility.JavaModule;

import static net.bytebuddy.matcher.ElementMatchers.isStatic;
import static net.bytebuddy.matcher.ElementMatchers.nameStartsWith;
import static net.bytebuddy.matcher.ElementMatchers.named;
import static net.bytebuddy.matcher.ElementMatchers.takesArgument;
import static net.bytebuddy.matcher.ElementMatchers.takesArguments;

/**
 * Makes every native-library load through Java report itself before it returns: the JDK's
 * {@code System.load}/{@code loadLibrary}/{@code Runtime.load*} (all through
 * {@code jdk.internal.loader.NativeLibraries}), FFM's {@code SymbolLookup.libraryLookup}
 * ({@code RawNativeLibraries}, JDK 18+) and JNA's {@code Native.load}/
 * {@code NativeLibrary.getInstance}. The advice calls {@code LibraryLoadBridge}, injected into
 * the bootstrap loader; byte-buddy itself stays in the agent's isolated loader.
 */
public final class LibraryLoadInstrumentation {
    /** The bridge classes injected into the bootstrap loader (package io.btfagent.bootstrap). */
    public static final List<String> BOOTSTRAP_CLASSES = List.of("io.btfagent.bootstrap.LibraryLoadBridge");
    private static final String BRIDGE = "io.btfagent.bootstrap.LibraryLoadBridge";
    private static final String BYTE_BUDDY_SAFE = "net.bytebuddy.safe";
    private static final String[] TARGETS = {"jdk.internal.loader.NativeLibraries",
        "jdk.internal.loader.RawNativeLibraries", "com.sun.jna.NativeLibrary"};

    private LibraryLoadInstrumentation() {
    }

    /**
     * Defines the bridge classes in the bootstrap loader (once per JVM, see
     * {@link BootstrapClasses#inject}) and returns the bootstrap's {@code LibraryLoadBridge}.
     */
    public static Class<?> injectBridges(Instrumentation inst) throws Exception {
        BootstrapClasses.inject(inst, BOOTSTRAP_CLASSES);
        return Class.forName(BRIDGE, false, null);
    }

    /**
     * Sets the bridge's listener and installs the advice, retransforming the already loaded JDK
     * classes. Failures (a JDK or JNA whose methods look different) go to {@code problem}, one
     * line per class; the application's loads are never affected.
     */
    @SuppressWarnings("unchecked")
    public static void install(Instrumentation inst, Class<?> bridge, Consumer<String> listener,
            Consumer<String> problem) throws ReflectiveOperationException {
        bridge.getField("listener").set(null, listener);
        // byte-buddy's class injectors, set up when an AgentBuilder is first made, reach for
        // sun.misc.Unsafe (a warning on the application's stderr from JDK 24 on) unless told
        // not to; nothing used here injects classes. The property is put back at once: the
        // application's own byte-buddy, if any, decides for itself.
        String safe = System.getProperty(BYTE_BUDDY_SAFE);
        AgentBuilder builder;
        try {
            System.setProperty(BYTE_BUDDY_SAFE, "true");
            builder = new AgentBuilder.Default();
        } finally {
            if (safe == null) {
                System.clearProperty(BYTE_BUDDY_SAFE);
            } else {
                System.setProperty(BYTE_BUDDY_SAFE, safe);
            }
        }
        ClassFileLocator locator = BootstrapClasses.agentClasses();
        builder.disableClassFormatChanges()
                .with(AgentBuilder.RedefinitionStrategy.RETRANSFORMATION)
                // retransform only the loaded classes that are instrumented, not every class
                .with(new AgentBuilder.RedefinitionStrategy.DiscoveryStrategy.Explicit(loaded(inst)))
                .with(AgentBuilder.InitializationStrategy.NoOp.INSTANCE)
                // the JDK's own loader classes are what is instrumented: do not ignore the bootstrap
                .ignore(nameStartsWith("net.bytebuddy.").or(nameStartsWith("io.btfagent.")))
                .assureReadEdgeTo(inst, bridge)
                .with(new AgentBuilder.Listener.Adapter() {
                    @Override
                    public void onError(String typeName, ClassLoader classLoader, JavaModule module, boolean loaded,
                            Throwable throwable) {
                        problem.accept("cannot instrument " + typeName + " (" + throwable
                                + "); libraries it loads are hooked by the maps scan only");
                    }
                })
                .type(named(TARGETS[0]))
                .transform((b, type, loader, module, domain) -> b.visit(
                        Advice.to(NativeLoadAdvice.JniLoad.class, locator).on(named("loadLibrary")
                                .and(takesArguments(3)).and(takesArgument(1, String.class)))))
                .type(named(TARGETS[1]))
                .transform((b, type, loader, module, domain) -> b.visit(
                        Advice.to(NativeLoadAdvice.RawLoad.class, locator).on(named("load")
                                .and(takesArguments(String.class)))))
                .type(named(TARGETS[2]))
                .transform((b, type, loader, module, domain) -> b.visit(
                        Advice.to(NativeLoadAdvice.JnaLoad.class, locator).on(named("loadLibrary").and(isStatic())
                                .and(takesArguments(2)).and(takesArgument(0, String.class)))))
                .installOn(inst);
    }

    /** The already loaded classes that {@link #install} instruments. */
    private static Class<?>[] loaded(Instrumentation inst) {
        java.util.Set<String> names = java.util.Set.of(TARGETS);
        return java.util.Arrays.stream(inst.getAllLoadedClasses()).filter(c -> names.contains(c.getName()))
                .toArray(Class<?>[]::new);
    }
}
