package io.btfagent.bootstrap;

import java.util.function.Consumer;

/**
 * Where native-library loads report themselves: the agent's advice, inlined into the JDK's
 * {@code jdk.internal.loader.NativeLibraries}/{@code RawNativeLibraries} and JNA's
 * {@code NativeLibrary}, calls {@link #loaded} once a library is mapped, before the load returns
 * to its caller. This class is injected into the bootstrap class loader, the one loader every
 * instrumented class can see; the agent, in its isolated loader, sets {@link #listener} (a JDK
 * type, so both sides agree on it). Nothing here may throw into the loading thread.
 */
public final class LibraryLoadBridge {
    /** Called with the library's name or path on the loading thread; null until the agent is ready. */
    public static volatile Consumer<String> listener;

    private LibraryLoadBridge() {
    }

    /** A native library was loaded (or found loaded already) under {@code name}. */
    public static void loaded(String name) {
        Consumer<String> l = listener;
        if (l != null) {
            try {
                l.accept(name);
            } catch (Throwable ignored) {
                // the application's load goes on whatever the agent does
            }
        }
    }
}
