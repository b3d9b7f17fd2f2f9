package io.btfagent.hook;

import io.btfagent.bpf.ProcessAccess;
import io.btfagent.bpf.BpfException;
import io.btfagent.bpf.BtfMerger;
import io.btfagent.bpf.CaptureObject;
import io.btfagent.event.RecordRouter;
import io.btfagent.tls.LibraryScanner;
import io.btfagent.tls.TlsLibrary;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;

/**
 * Hooks netty-tcnative's statically linked BoringSSL by its symbols alone. netty drives it over
 * a memory BIO only (see {@link TlsLibrary#boringssl}), so the program reads no BoringSSL
 * struct: the instance is loaded with the kernel's BTF alone (for the CO-RE of the kernel types
 * it uses), told {@code memory_bio_only}, and every event of it has fd -1.
 *
 * <p>A record of such a library: {@code "lib":"boringssl","libVersion":"unknown"} (BoringSSL
 * has no version and netty-tcnative's file names none), {@code "libPath"} the name netty
 * extracted it to (e.g. {@code /tmp/libnetty_tcnative_linux_x86_64123.so}, deleted or not),
 * {@code "func":"SSL_read"|"SSL_write"}, {@code "ssl"} the {@code SSL*}, {@code "fd":-1}, no
 * {@code local}/{@code remote} from the kernel side (identity comes from the JVM side).
 */
public final class SymbolOnlyHook implements LibraryHook {
    private static final String VERSION = "unknown";
    private final InstanceSetup setup;
    private final Consumer<String> debug;

    public SymbolOnlyHook(InstanceSetup setup, Consumer<String> debug) {
        this.setup = setup;
        this.debug = debug;
    }

    @Override
    public HookedLibrary attach(LibraryScanner.LibraryFile file, TlsLibrary lib, long t0) throws HookRefused {
        RecordRouter router = setup.router();
        try {
            int id = setup.nextId();
            router.add(id, setup.decoder(lib, VERSION, file), null);
            long[] cookies = lib.functions().stream().mapToLong(f -> RecordRouter.cookie(id, f)).toArray();
            long[] offsets = lib.offsets().stream().mapToLong(Long::longValue).toArray();
            CaptureObject.Attached a;
            try (BtfMerger.Merged kernel = BtfMerger.kernelOnly(setup.kernelBtf(), setup.object().kernelTypeNames())) {
                a = setup.object().attach(kernel.path(), setup.settings(), setup.ringFd(), setup.pid(),
                        file.attachPath().toString(), lib.functions(), offsets, true, cookies, lib.freeProbe(),
                        setup.attachMode(), setup.multiUsable(), debug);
            } catch (java.io.IOException | BpfException | RuntimeException e) {
                router.remove(id);
                throw e;
            }
            String hookedAs = "hooked " + lib.family() + " (netty-tcnative) at " + file.path()
                    + (file.deleted() ? " (deleted; attached through " + file.attachPath() + ")" : "")
                    + " (build-id " + lib.buildId() + ", no BTF needed: memory BIO only)";
            return new HookedLibrary(id, lib, VERSION, "none (memory BIO only)", a.object(), a.multi(), null,
                    hookedAs, new AtomicBoolean());
        } catch (java.io.IOException | BpfException | RuntimeException e) {
            throw new HookRefused("not hooking " + lib.family() + " at " + file.path() + ": " + e.getMessage()
                    + ProcessAccess.cause(e));
        }
    }
}
