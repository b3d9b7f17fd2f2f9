package io.btfagent.hook;

import io.btfagent.bpf.ProcessAccess;
import io.btfagent.bpf.BpfException;
import io.btfagent.bpf.BtfMerger;
import io.btfagent.bpf.CaptureObject;
import io.btfagent.btf.BtfCatalog;
import io.btfagent.btf.BtfSelection;
import io.btfagent.event.BuildCheck;
import io.btfagent.event.RecordRouter;
import io.btfagent.tls.LibraryScanner;
import io.btfagent.tls.ProbeSites;
import io.btfagent.tls.TlsLibrary;
import java.io.IOException;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * Hooks a library whose structs the program reads (OpenSSL, GnuTLS): picks the BTF of its build
 * ({@link BtfSelection}), merges it with the kernel's ({@link BtfMerger}), and attaches one
 * instance at the sites {@link ProbeSites} planned, guarded by a {@link BuildCheck} when the
 * BTF was not made for this build.
 */
public final class BtfBackedHook implements LibraryHook {
    private final InstanceSetup setup;
    private final BtfCatalog catalog;
    /** btf.fallback=version-line: a build of the same version line may lend its BTF, checked. */
    private final boolean fallback;
    /** probe.placement=emulated: probes go on instructions the kernel emulates where the code proves it safe. */
    private final boolean placeProbes;
    private final Consumer<String> debug;

    public BtfBackedHook(InstanceSetup setup, BtfCatalog catalog, boolean fallback, boolean placeProbes,
            Consumer<String> debug) {
        this.setup = setup;
        this.catalog = catalog;
        this.fallback = fallback;
        this.placeProbes = placeProbes;
        this.debug = debug;
    }

    @Override
    public HookedLibrary attach(LibraryScanner.LibraryFile file, TlsLibrary lib, long t0) throws HookRefused {
        BtfSelection.Outcome outcome = select(lib, debug);
        if (outcome instanceof BtfSelection.Refused r) {
            throw new HookRefused(r.version().isEmpty()
                    ? "not hooking " + file.path() + ": " + r.reason()
                    : "not hooking " + lib.family() + " " + r.version().get() + " at " + file.path() + ": "
                            + r.reason());
        }
        BtfSelection.Chosen btf = (BtfSelection.Chosen) outcome;
        String version = btf.selection().version();
        long tResolved = System.nanoTime();
        RecordRouter router = setup.router();
        try (BtfMerger.Merged merged = merge(btf)) {
            long tMerged = System.nanoTime();
            int id = setup.nextId();
            router.add(id, setup.decoder(lib, version, file),
                    btf.guarded() ? new BuildCheck(setup.object().layout()) : null);
            CaptureObject.Attached a;
            ProbeSites sites;
            long tPlanned;
            try {
                sites = plan(file, lib);
                tPlanned = System.nanoTime();
                a = setup.object().attachAt(merged.path(), setup.settings(), setup.ringFd(), setup.pid(),
                        file.attachPath().toString(), sites(id, sites), lib.freeProbe(), false, setup.attachMode(),
                        setup.multiUsable(), debug);
            } catch (IOException | BpfException | RuntimeException e) {
                router.remove(id);
                throw e;
            }
            debug.accept("hook phases: resolve " + (tResolved - t0) / 1_000_000 + " ms, BTF merge "
                    + (tMerged - tResolved) / 1_000_000 + " ms, probe sites " + (tPlanned - tMerged) / 1_000_000
                    + " ms, load and attach " + (System.nanoTime() - tPlanned) / 1_000_000 + " ms");
            String hookedAs = "hooked " + lib.family() + " " + version + " at " + file.path() + " (build-id "
                    + lib.buildId() + ", BTF " + btf.selection().origin() + (!btf.selection().checked() ? ""
                            : btf.guarded()
                                    ? ", not made for this build: every record is checked before it is reported"
                                    : ", from btf.path, trusted as this build's")
                    + btf.passedOver().map(why -> "; passed over " + why).orElse("") + ")";
            return new HookedLibrary(id, lib, version, btf.selection().origin(), a.object(), a.multi(), sites,
                    hookedAs, new AtomicBoolean());
        } catch (IOException | BpfException | RuntimeException e) {
            throw new HookRefused("not hooking " + lib.family() + " " + version + " at " + file.path() + ": "
                    + e.getMessage() + ProcessAccess.cause(e));
        }
    }

    /**
     * Runs the Java side of a hook on {@code file} and attaches nothing: reads the library,
     * chooses its BTF, merges it with the kernel's and plans its probe sites. A JVM that hooked
     * nothing at start-up runs it once on a library on disk, so that the first library loaded
     * later is hooked by code that has run before (classes loaded, call sites linked): that
     * hook is then some milliseconds sooner.
     */
    public void rehearse(LibraryScanner.LibraryFile file) throws IOException {
        TlsLibrary lib = TlsLibrary.open(file);
        if (select(lib, line -> { }) instanceof BtfSelection.Chosen btf) {
            try (BtfMerger.Merged merged = merge(btf)) {
                plan(file, lib);
            }
        }
    }

    /** The BTF for {@code lib}'s build, or why there is none. */
    private BtfSelection.Outcome select(TlsLibrary lib, Consumer<String> said) {
        return BtfSelection.select(catalog, lib.family(), lib.buildId(), lib::reportedVersion, fallback, said);
    }

    /** The chosen BTF merged with the kernel's (the part the capture program can reach). */
    private BtfMerger.Merged merge(BtfSelection.Chosen btf) throws IOException {
        return BtfMerger.merge(setup.kernelBtf(), setup.object().kernelTypeNames(), btf.selection().btf());
    }

    /** Where {@code lib}'s probes go in {@code file}. */
    private ProbeSites plan(LibraryScanner.LibraryFile file, TlsLibrary lib) throws IOException {
        // GnuTLS stays at entry: with its moved gnutls_record_send probes a GnuTLS 3.8.13 client
        // crashed at exit (SIGSEGV in a native thread) in CatalogMatrixIT; cause not yet known
        return ProbeSites.plan(file.attachPath(), lib.functions(), placeProbes && !lib.family().equals("gnutls"));
    }

    /** The cookies of library {@code id} on the sites ProbePlacement chose. */
    private static CaptureObject.Sites sites(int id, ProbeSites p) {
        Function<List<ProbeSites.Site>, List<CaptureObject.Site>> map = l -> l.stream()
                .map(s -> new CaptureObject.Site(s.fileOffset(), RecordRouter.cookie(id, s.function()), s.function()))
                .toList();
        return new CaptureObject.Sites(map.apply(p.entries()), map.apply(p.returnProbes()), map.apply(p.exits()));
    }
}
