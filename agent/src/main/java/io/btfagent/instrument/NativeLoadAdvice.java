package io.btfagent.instrument;

import io.btfagent.bootstrap.LibraryLoadBridge;
import net.bytebuddy.asm.Advice;

/**
 * Advice inlined at the exits of the native-library loading methods (see
 * {@link LibraryLoadInstrumentation}). Inlined code runs in the instrumented class's loader, so
 * it reaches the agent only through the bootstrap class {@link LibraryLoadBridge}.
 */
final class NativeLoadAdvice {
    private NativeLoadAdvice() {
    }

    /** {@code NativeLibraries.loadLibrary(Class fromClass, String name, boolean isBuiltin)}: JNI loads. */
    static final class JniLoad {
        @Advice.OnMethodExit(suppress = Throwable.class)
        static void exit(@Advice.Argument(1) String name, @Advice.Return Object library) {
            if (library != null) {
                LibraryLoadBridge.loaded(name);
            }
        }
    }

    /** {@code RawNativeLibraries.load(String pathname)}: FFM's SymbolLookup.libraryLookup (JDK 18+). */
    static final class RawLoad {
        @Advice.OnMethodExit(suppress = Throwable.class)
        static void exit(@Advice.Argument(0) String name, @Advice.Return Object library) {
            if (library != null) {
                LibraryLoadBridge.loaded(name);
            }
        }
    }

    /** JNA's {@code NativeLibrary.loadLibrary(String name, Map options)}: Native.load, NativeLibrary.getInstance. */
    static final class JnaLoad {
        @Advice.OnMethodExit(suppress = Throwable.class)
        static void exit(@Advice.Argument(0) String name, @Advice.Return Object library) {
            if (library != null) {
                LibraryLoadBridge.loaded(name);
            }
        }
    }
}
