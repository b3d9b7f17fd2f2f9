package io.btfagent.runtime;

import ch.qos.logback.classic.Logger;
import io.btfagent.bpf.BpfException;
import io.btfagent.bpf.BtfMerger;
import io.btfagent.bpf.CaptureObject;
import io.btfagent.bpf.KernelFeatures;
import io.btfagent.bpf.PidNamespace;
import io.btfagent.bpf.RingReader;
import io.btfagent.bpf.ConnSequence;
import io.btfagent.bpf.SharedMaps;
import io.btfagent.bpf.UprobeLink;
import io.btfagent.btf.BtfCatalog;
import io.btfagent.config.AgentConfig;
import io.btfagent.event.CaptureCounter;
import io.btfagent.event.RecordDecoder;
import io.btfagent.event.RecordRouter;
import io.btfagent.hook.BtfBackedHook;
import io.btfagent.hook.HookRefused;
import io.btfagent.hook.HookedLibraries;
import io.btfagent.hook.HookedLibrary;
import io.btfagent.hook.InstanceSetup;
import io.btfagent.hook.LibraryHook;
import io.btfagent.hook.SymbolOnlyHook;
import io.btfagent.hook.Unhooker;
import io.btfagent.identity.PeerMap;
import io.btfagent.jsse.JsseCapture;
import io.btfagent.log.AgentLog;
import io.btfagent.sink.Dispatcher;
import io.btfagent.tls.LibraryScanner;
import io.btfagent.tls.MappedLibraries;
import io.btfagent.tls.TlsLibrary;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Wires the data path for every TLS library found: scan ({@link LibraryScanner}) → select BTF,
 * load and attach (a {@link LibraryHook} per kind of library) → ring ({@link SharedMaps},
 * read on the thread {@code btf-agent-ring}) → decode/route ({@link RecordRouter}) → sinks
 * ({@link Dispatcher}). It decides the order and says what happened; each step lives in its
 * package.
 */
final class Capture {
    private final Logger log;
    private final CaptureObject object;
    private final InstanceSetup setup;
    private final BtfBackedHook btfBacked;
    private final LibraryHook symbolOnly;
    private final List<String> families;
    private final MappedLibraries mappedLibraries = new MappedLibraries();
    /** Set by a hook whose library's file went away meanwhile (see {@link #vanishedWhileHooked}); under scan's lock. */
    private boolean vanished;
    private final HookedLibraries libraries;
    private final Unhooker unhooker;
    private final RecordRouter router;
    private final LinkerWatch linker;
    private final SharedMaps maps;
    private final RingReader reader;
    private final HookProgress progress = new HookProgress();
    private final String kernelBtf;
    private boolean mergeReady;
    /** Files in watched directories named like TLS libraries that are not regular files, said once each. */
    private final java.util.Set<Path> skippedOnDisk = new java.util.HashSet<>();
    private volatile JsseCapture jsse;
    private volatile Runnable jsseStop;

    Capture(AgentConfig config, Logger log, Dispatcher dispatcher) throws IOException, BpfException {
        this.log = log;
        this.kernelBtf = config.get("kernel.btf");
        String btfDir = config.get("btf.path");
        Optional<String> btfDirProblem = btfDir == null ? Optional.empty() : BtfCatalog.userDirProblem(Path.of(btfDir));
        if (btfDirProblem.isPresent()) {
            log.warn("btf.path {} {}; BTF is chosen from the bundled catalog only; name a directory of <build-id>.btf "
                    + "files", btfDir, btfDirProblem.get());
        }
        BtfCatalog catalog = BtfCatalog.bundled(btfDir == null || btfDirProblem.isPresent() ? null : Path.of(btfDir));
        this.object = CaptureObject.bundled();
        int ringBytes = CaptureObject.ringSize(config.longValue("ring.bytes"));
        int pid = (int) ProcessHandle.current().pid();
        // The program matches this JVM's threads by their numbers in its own pid namespace (a
        // container's): the only numbers it knows, and the ones ps and jstack there show.
        PidNamespace pidNamespace = null;
        int tgid = pid;
        try {
            pidNamespace = PidNamespace.ofThisProcess();
        } catch (IOException | RuntimeException e) {
            // without /proc/self/ns/pid: the initial namespace's numbers, which an attach from
            // outside a container tells (else this JVM's own, right outside a pid namespace)
            tgid = AgentControl.initialNamespacePid().orElse(pid);
            log.debug("pid namespace of this JVM unknown ({}); matching pid {} as the kernel numbers it", e, tgid);
        }
        CaptureObject.Settings settings = new CaptureObject.Settings((int) config.longValue("capture.max-bytes"),
                tgid, ringBytes / 32, pidNamespace);
        CaptureObject.AttachMode attachMode = CaptureObject.AttachMode.valueOf(
                config.word("attach.mode").toUpperCase(Locale.ROOT));
        KernelFeatures features = KernelFeatures.probe(Set.copyOf(config.list("kernel.assume-missing")));
        object.useFeatures(features);
        boolean multiUsable = features.attachCookie() && CaptureObject.uprobeMultiUsable();
        if (features.missing().isEmpty()) {
            log.debug("kernel {}: every BPF feature the capture uses; {}", System.getProperty("os.version"),
                    features.mode());
        } else {
            log.info("kernel {} lacks {}: capturing with {} (same events)", System.getProperty("os.version"),
                    String.join(", ", features.missing()), features.mode());
            if (!features.bpfLoop() && settings.maxCapture() > KernelFeatures.BOUNDED_MAX_CAPTURE) {
                log.warn("capture.max-bytes={} is more than this kernel's capture keeps of a call without bpf_loop "
                        + "(5.17): at most {} bytes are kept, the rest is counted as truncated",
                        settings.maxCapture(), KernelFeatures.BOUNDED_MAX_CAPTURE);
            }
        }
        this.families = config.list("libraries");
        this.libraries = new HookedLibraries(log);
        this.unhooker = new Unhooker(libraries, log);
        this.router = RecordRouter.ofViews(object.layout(), dispatcher::publish,
                why -> log.warn("dropped an undecodable record: {}", why), unhooker::refused);
        this.maps = SharedMaps.create(object, ringBytes, !features.fetchAtomics());
        this.setup = new InstanceSetup(object, settings, maps.ring().fd(), pid, config.get("kernel.btf"),
                attachMode, multiUsable, router, RecordDecoder.monotonicToEpochOffset(), new AtomicInteger(1));
        this.btfBacked = new BtfBackedHook(setup, catalog, config.word("btf.fallback").equals("version-line"),
                config.word("probe.placement").equals("emulated"), log::debug);
        this.symbolOnly = new SymbolOnlyHook(setup, log::debug);
        this.linker = new LinkerWatch(setup, log::debug);
        this.reader = RingReader.start(maps.ring(), router::accept);
    }

    /**
     * Hooks every TLS library this process has mapped and every one in the watched directories.
     * A watched library that cannot be hooked is noted quietly (at debug level): the application
     * may never load it. Once it is mapped, the reason is logged as a warning.
     */
    synchronized void scan(List<Path> watched) {
        linker.scanStarts();
        try {
            // a second look when a library's file went away while it was being hooked
            for (int pass = 0; pass < 2; pass++) {
                vanished = false;
                for (LibraryScanner.LibraryFile f : mappedLibraries.scan()) {
                    consider(f, true);
                }
                if (!vanished) {
                    break;
                }
            }
        } catch (IOException e) {
            log.warn("cannot read /proc/self/maps ({}); libraries loaded later are not hooked", e.toString());
        }
        // OpenSSL first: it is what the JVM stacks load (netty-tcnative, Tomcat, wildfly-openssl)
        List<LibraryScanner.LibraryFile> onDisk = new ArrayList<>(LibraryScanner.onDisk(watched, (p, why) -> {
            if (skippedOnDisk.add(p)) {
                log.debug("watched {} skipped: {} (never opened)", p, why);
            }
        }));
        onDisk.sort(Comparator.comparing(f -> !f.family().equals("openssl")));
        for (LibraryScanner.LibraryFile f : onDisk) {
            consider(f, false);
        }
        if (!mergeReady) {
            mergeReady = true;
            try {
                // a library loaded later then waits neither for reading nor for indexing it
                BtfMerger.prepare(kernelBtf, object.kernelTypeNames());
            } catch (IOException e) {
                log.debug("kernel BTF not read ahead: {}", e.toString());
            }
        }
    }

    /**
     * When nothing is hooked yet: rehearses a hook (see {@link BtfBackedHook#rehearse}) on the
     * first OpenSSL library in {@code dirs}, attaching nothing. Returns what it rehearsed on, and
     * in how many ms, for a debug line; empty if it did not.
     */
    synchronized Optional<String> rehearse(List<Path> dirs) {
        if (libraries.size() > 0) {
            return Optional.empty();
        }
        for (LibraryScanner.LibraryFile f : LibraryScanner.onDisk(dirs)) {
            if (!f.family().equals("openssl")) {
                continue;
            }
            long t0 = System.nanoTime();
            try {
                btfBacked.rehearse(f);
                return Optional.of(f.path() + " in " + (System.nanoTime() - t0) / 1_000_000 + " ms");
            } catch (IOException | RuntimeException e) {
                log.debug("no hook rehearsed on {}: {}", f.path(), e.toString());
            }
        }
        return Optional.empty();
    }

    private void consider(LibraryScanner.LibraryFile f, boolean mapped) {
        if ((!families.isEmpty() && !families.contains(f.family())) || libraries.decided(f, mapped)) {
            return;
        }
        if (f.attachPath() == null) {
            libraries.refuse(f, mapped, "not hooking " + f.family() + " " + f.path() + " (deleted): "
                    + "/proc/self/map_files, the only way to its inode, does not open for this JVM; it needs "
                    + "CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN (or run as root)");
            return;
        }
        progress.hooking(f.path().toString());
        try {
            hook(f, mapped);
        } catch (RuntimeException e) {
            libraries.refuse(f, mapped, "not hooking " + f.path() + ": unexpected " + e);
        } finally {
            progress.done();
        }
    }

    private void hook(LibraryScanner.LibraryFile file, boolean mapped) {
        long t0 = System.nanoTime();
        TlsLibrary lib;
        try {
            lib = TlsLibrary.open(file);
        } catch (IOException e) {
            if (!vanishedWhileHooked(file, mapped, e.getMessage())) {
                libraries.refuse(file, mapped, "not hooking " + file.path() + ": " + e.getMessage());
            }
            return;
        }
        LibraryHook strategy = lib.family().equals("boringssl") ? symbolOnly : btfBacked;
        HookedLibrary h;
        try {
            h = strategy.attach(file, lib, t0);
        } catch (HookRefused e) {
            if (!vanishedWhileHooked(file, mapped, e.getMessage())) {
                libraries.refuse(file, mapped, e.getMessage());
            }
            return;
        }
        // the probes are in place from here: the times are taken now, before any bookkeeping
        long hookMs = (System.nanoTime() - t0) / 1_000_000;
        String sinceReport = linker.sinceReport();
        libraries.add(file, h);
        progress.hooked(); // capture has started, whichever kind of library it was
        log.info("{}: {} on {} in {} ms, {} ms after JVM start{}", h.hookedAs(), h.probes(), h.probed(), hookMs,
                AgentLog.sinceJvmStartMs(), sinceReport);
        if (h.sites() != null) {
            log.debug("probe placement of {}: {}", file.path(), h.sites().describe());
        }
        // A check that failed before the library was registered here found nothing to detach.
        router.refusal(h.id()).ifPresent(problem -> unhooker.unhook(h, problem));
    }

    /**
     * A mapped library whose file was deleted while it was being hooked through its path
     * (netty deletes its library as soon as the load returns, which the hook may outlast): not
     * refused. The maps then show it deleted, and the next look attaches through
     * /proc/self/map_files.
     */
    private boolean vanishedWhileHooked(LibraryScanner.LibraryFile file, boolean mapped, String why) {
        if (!mapped || file.deleted() || Files.exists(file.path(), LinkOption.NOFOLLOW_LINKS)) {
            return false;
        }
        log.debug("{} was deleted while it was being hooked ({}); looking at the maps again", file.path(), why);
        vanished = true;
        return true;
    }

    /** The dynamic linker's probe, which libraries mapped by native code wake the scan through. */
    LinkerWatch linker() {
        return linker;
    }

    /** Where the JVM side writes what it knows of each TLS object, for the probes to stamp on records. */
    PeerMap peers() {
        return new PeerMap(maps.peers(), object.peerLayout());
    }

    /** How far hooking got, for the exit summary. */
    HookProgress progress() {
        return progress;
    }

    /** The libraries hooked (and refused) so far. */
    HookedLibraries libraries() {
        return libraries;
    }

    /** Records the kernel side could not write to the ring (it was full), over every hooked library. */
    long recordsLost() {
        return libraries.kernelCounters(CaptureCounter.values().length)[CaptureCounter.RECORDS_LOST.index()];
    }

    /**
     * The counters now: the kernel side's summed over every hooked library, and the router's;
     * JSSE's calls, records, truncation and connections are added to the kernel's.
     */
    CaptureStats stats(List<Dispatcher.SinkStats> sinks) {
        JsseCapture j = jsse;
        JsseCapture.Counters jc = j == null ? JsseCapture.Counters.ZERO : j.counters();
        long[] kernel = libraries.kernelCounters(CaptureCounter.values().length);
        kernel[CaptureCounter.CALLS.index()] += jc.calls();
        kernel[CaptureCounter.RECORDS.index()] += jc.events();
        kernel[CaptureCounter.CALLS_TRUNCATED.index()] += jc.callsTruncated();
        kernel[CaptureCounter.BYTES_TRUNCATED.index()] += jc.bytesTruncated();
        kernel[CaptureCounter.CONNS.index()] += jc.conns();
        return new CaptureStats(libraries.size(), kernel, router.undecodable(), router.refusedRecords(), sinks,
                libraries.movedFunctions(), libraries.entryFunctions(), jc);
    }

    /** The conn counter every probe numbers from, for connections numbered in Java (JSSE). */
    ConnSequence connSequence() {
        return maps.sequence();
    }

    /** JSSE's capture, whose counters {@link #stats} adds, and how to stop it (on {@link #stop}). */
    void jsse(JsseCapture capture, Runnable stop) {
        this.jsse = capture;
        this.jsseStop = stop;
    }

    /**
     * Detaches every probe (in parallel, see {@link UprobeLink#closeInParallel}), then stops
     * reading after one last drain of the ring, so that everything the probes wrote is read.
     */
    void stop(long deadlineMs) {
        Runnable j = jsseStop;
        if (j != null) {
            j.run(); // the JDK's TLS first: its events go to the sinks about to be flushed
        }
        long end = System.nanoTime() + deadlineMs * 1_000_000;
        List<UprobeLink> links = new ArrayList<>(linker.links());
        links.addAll(libraries.links());
        UprobeLink.closeInParallel(links, end);
        try {
            reader.stop(deadlineMs);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        unhooker.drainAndStop();
    }

    /**
     * {@link #stop}, then frees every object, the ring and the reader's descriptors: after it
     * the process holds nothing of the capture in the kernel, and no thread of it runs.
     */
    void close(long deadlineMs) {
        stop(deadlineMs);
        libraries.closeAll();
        linker.close();
        try {
            reader.join(5_000);
            unhooker.join(5_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (reader.running()) {
            log.warn("the ring reader did not stop; its ring stays mapped");
            return;
        }
        reader.close();
        // the ring, and the maps every library's object shared for connection identity; the objects are gone
        maps.close();
    }
}
