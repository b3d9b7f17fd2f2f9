package io.btfagent.runtime;

import ch.qos.logback.classic.Logger;
import io.btfagent.bpf.BpfException;
import io.btfagent.bpf.BpfMap;
import io.btfagent.bpf.BpfObject;
import io.btfagent.bpf.BtfMerger;
import io.btfagent.bpf.CaptureObject;
import io.btfagent.bpf.RingBuffer;
import io.btfagent.bpf.RingBufferPoller;
import io.btfagent.bpf.UprobeLink;
import io.btfagent.btf.BtfCatalog;
import io.btfagent.btf.BtfSelection;
import io.btfagent.config.AgentConfig;
import io.btfagent.event.BuildCheck;
import io.btfagent.event.CaptureCounter;
import io.btfagent.event.RecordDecoder;
import io.btfagent.identity.PeerMap;
import io.btfagent.event.RecordRouter;
import io.btfagent.sink.Dispatcher;
import io.btfagent.tls.LibraryScanner;
import io.btfagent.tls.MappedLibraries;
import io.btfagent.tls.ProbeSites;
import io.btfagent.tls.TlsLibrary;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Runs the data path for every TLS library found: scan ({@link LibraryScanner}) → select BTF
 * ({@link BtfSelection}) → merge and load/attach ({@link BtfMerger}, {@link CaptureObject}) →
 * ring ({@link RingBufferPoller}) → decode/route ({@link RecordRouter}) → sinks
 * ({@link Dispatcher}). It decides the order and says what happened; each step lives in its
 * package.
 */
final class Capture {
    private final AgentConfig config;
    private final Logger log;
    private final BtfCatalog catalog;
    private final CaptureObject object;
    private final CaptureObject.Settings settings;
    private final CaptureObject.AttachMode attachMode;
    private final boolean multiUsable;
    private final boolean fallback;
    /** probe.placement=emulated: probes go on instructions the kernel emulates where the code proves it safe. */
    private final boolean placeProbes;
    /** When the first library's probes were attached (ms after JVM start), -1 before. */
    private volatile long firstHookedMs = -1;
    /** The library being hooked now, null between hooks: what an early exit interrupted. */
    private volatile String hooking;
    private volatile long hookingSinceMs;
    private final List<String> families;
    private final int pid = (int) ProcessHandle.current().pid();
    /** This process as the kernel's BPF helpers see it (another number inside a pid namespace). */
    private final int tgid = AgentControl.initialNamespacePid().orElse(pid);
    private final long monotonicToEpoch = RecordDecoder.monotonicToEpochOffset();
    /** The one ring every library's instance writes to (its cookie says which library a record is of). */
    private final RingBuffer ring;
    /** Shared by every instance: conn ids, and what the JVM side reported per TLS object. */
    private final BpfMap conns;
    private final BpfMap connSeq;
    private final BpfMap peers;
    private final RingBufferPoller poller;
    private final Thread pollerThread;
    private final RecordRouter router;
    private final Map<String, Hooked> hooked = new ConcurrentHashMap<>();
    private final AtomicInteger nextId = new AtomicInteger(1);
    private final Set<String> refused = ConcurrentHashMap.newKeySet();
    private final Set<String> refusedQuietly = ConcurrentHashMap.newKeySet();
    private final Map<Integer, Hooked> byId = new ConcurrentHashMap<>();
    /** Libraries the ring thread refused, for {@link #unhookRefused()} to detach. */
    private final BlockingQueue<RecordRouter.Refusal> refusals = new LinkedBlockingQueue<>();
    private final Thread unhookThread;
    private final MappedLibraries mappedLibraries = new MappedLibraries();
    /** Called (on the ring thread) when the dynamic linker reports a change of the mapped libraries. */
    private volatile Runnable onLinkerMapped = () -> { };
    /** Kernel time of the first linker report since the last scan began, 0 if none. */
    private final AtomicLong linkerReportNs = new AtomicLong();
    /** The scan in progress was woken by the linker at this kernel time (0: it was not). */
    private long scanWokenAtNs;
    private volatile BpfObject linkerObject;

    /**
     * A library build with probes attached. Its records carry {@code id} in the cookie's upper
     * bits; {@code unhooked}: its probes were detached because its BTF failed the check.
     */
    private record Hooked(int id, TlsLibrary library, String version, String origin, BpfObject object,
            boolean multi, AtomicBoolean unhooked, ProbeSites sites) {
        /** Functions whose probes went on emulated instructions (none without a placement). */
        int moved() {
            return sites == null ? 0 : sites.moved();
        }
    }

    Capture(AgentConfig config, Logger log, Dispatcher dispatcher) throws IOException, BpfException {
        this.config = config;
        this.log = log;
        String btfDir = config.get("btf.path");
        this.catalog = BtfCatalog.bundled(btfDir == null ? null : Path.of(btfDir));
        this.object = CaptureObject.bundled();
        int ringBytes = CaptureObject.ringSize(config.longValue("ring.bytes"));
        this.settings = new CaptureObject.Settings((int) config.longValue("capture.max-bytes"), tgid, ringBytes / 32);
        this.attachMode = CaptureObject.AttachMode.valueOf(config.word("attach.mode").toUpperCase(Locale.ROOT));
        this.fallback = config.word("btf.fallback").equals("version-line");
        this.placeProbes = config.word("probe.placement").equals("emulated");
        this.families = config.list("libraries");
        this.multiUsable = CaptureObject.uprobeMultiUsable();
        this.router = RecordRouter.ofViews(object.layout(), dispatcher::publish,
                why -> log.warn("dropped an undecodable record: {}", why), refusals::add);
        this.router.onLinker(ts -> {
            linkerReportNs.compareAndSet(0, ts);
            onLinkerMapped.run();
        });
        this.unhookThread = new Thread(this::unhookRefused, "btf-agent-unhook");
        this.unhookThread.setDaemon(true);
        this.unhookThread.start();
        this.ring = RingBuffer.create(CaptureObject.RING_MAP, ringBytes);
        this.conns = BpfMap.create(BpfMap.BPF_MAP_TYPE_LRU_HASH, "conns", 8, 8, CaptureObject.CONN_ENTRIES);
        this.connSeq = BpfMap.create(BpfMap.BPF_MAP_TYPE_ARRAY, "conn_seq", 4, 8, 1);
        this.peers = BpfMap.create(BpfMap.BPF_MAP_TYPE_LRU_HASH, "peers", 8, object.peerLayout().size(),
                CaptureObject.CONN_ENTRIES);
        object.useConnMaps(new CaptureObject.ConnMaps(conns.fd(), connSeq.fd(), peers.fd()));
        this.poller = new RingBufferPoller();
        this.poller.addInPlace(ring, router::accept);
        this.pollerThread = new Thread(poller::run, "btf-agent-ring");
        this.pollerThread.setDaemon(true);
        this.pollerThread.start();
    }

    /**
     * Hooks every TLS library this process has mapped and every one in the watched directories.
     * A watched library that cannot be hooked is noted quietly (at debug level): the application
     * may never load it. Once it is mapped, the reason is logged as a warning.
     */
    synchronized void scan(List<Path> watched) {
        scanWokenAtNs = linkerReportNs.getAndSet(0);
        try {
            for (LibraryScanner.LibraryFile f : mappedLibraries.scan()) {
                consider(f, true);
            }
        } catch (IOException e) {
            log.warn("cannot read /proc/self/maps ({}); libraries loaded later are not hooked", e.toString());
        }
        // OpenSSL first: it is what the JVM stacks load (netty-tcnative, Tomcat, wildfly-openssl)
        List<LibraryScanner.LibraryFile> onDisk = new ArrayList<>(LibraryScanner.onDisk(watched));
        onDisk.sort(Comparator.comparing(f -> !f.family().equals("openssl")));
        for (LibraryScanner.LibraryFile f : onDisk) {
            consider(f, false);
        }
    }

    private void consider(LibraryScanner.LibraryFile f, boolean mapped) {
        String family = f.family();
        if (!families.isEmpty() && !families.contains(family)) {
            return;
        }
        if (hooked.containsKey(f.fileKey()) || refused.contains(f.fileKey())
                || (!mapped && refusedQuietly.contains(f.fileKey()))) {
            return;
        }
        if (f.attachPath() == null) {
            refuse(f, mapped, "not hooking {} {} (deleted): /proc/self/map_files, the only way to its inode, does not "
                    + "open for this JVM; it needs CAP_CHECKPOINT_RESTORE or CAP_SYS_ADMIN (or run as root)", family,
                    f.path());
            return;
        }
        hookingSinceMs = sinceJvmStartMs();
        hooking = f.path().toString();
        try {
            hook(f, mapped);
        } catch (RuntimeException e) {
            refuse(f, mapped, "not hooking {}: unexpected {}", f.path(), e.toString());
        } finally {
            hooking = null;
        }
    }

    private void hook(LibraryScanner.LibraryFile file, boolean mapped) {
        long t0 = System.nanoTime();
        TlsLibrary lib;
        try {
            // a deleted file is read through map_files; a present one by its name, so that
            // OpenSSL's libcrypto beside it can still be found for the version
            boolean byName = !file.deleted() && !file.family().equals("boringssl");
            lib = TlsLibrary.open(byName ? file.path() : file.attachPath(), file.family());
        } catch (IOException e) {
            refuse(file, mapped, "not hooking {}: {}", file.path(), e.getMessage());
            return;
        }
        if (lib.family().equals("boringssl")) {
            hookWithoutBtf(file, lib, mapped, t0);
            return;
        }
        BtfSelection.Outcome outcome = BtfSelection.select(catalog, lib.family(), lib.buildId(), lib::reportedVersion,
                fallback, log::debug);
        if (outcome instanceof BtfSelection.Refused r) {
            if (r.version().isEmpty()) {
                refuse(file, mapped, "not hooking {}: {}", file.path(), r.reason());
            } else {
                refuse(file, mapped, "not hooking {} {} at {}: {}", lib.family(), r.version().get(), file.path(),
                        r.reason());
            }
            return;
        }
        BtfSelection.Chosen btf = (BtfSelection.Chosen) outcome;
        String version = btf.selection().version();
        long tResolved = System.nanoTime();
        Hooked h;
        long tMerged;
        try (BtfMerger.Merged merged = BtfMerger.merge(config.get("kernel.btf"), btf.selection().btf())) {
            tMerged = System.nanoTime();
            int id = nextId.getAndIncrement();
            router.add(id, new RecordDecoder(object.layout(),
                    new RecordDecoder.Source(lib.family(), version, file.path().toString()), monotonicToEpoch),
                    btf.guarded() ? new BuildCheck(object.layout()) : null);
            CaptureObject.Attached a;
            ProbeSites sites;
            try {
                // GnuTLS stays at entry: with its moved gnutls_record_send probes a GnuTLS 3.8.13 client
                // crashed at exit (SIGSEGV in a native thread) in CatalogMatrixIT; cause not yet known
                sites = ProbeSites.plan(file.attachPath(), lib.functions(),
                        placeProbes && !lib.family().equals("gnutls"));
                a = object.attachAt(merged.path(), settings, ring.fd(), pid, file.attachPath().toString(),
                        sites(id, sites), lib.freeProbe(), false, attachMode, multiUsable, log::debug);
            } catch (IOException | BpfException | RuntimeException e) {
                router.remove(id);
                throw e;
            }
            h = new Hooked(id, lib, version, btf.selection().origin(), a.object(), a.multi(), new AtomicBoolean(),
                    sites);
        } catch (IOException | BpfException | RuntimeException e) {
            refuse(file, mapped, "not hooking {} {} at {}: {}", lib.family(), version, file.path(), e.getMessage());
            return;
        }
        hooked.put(file.fileKey(), h);
        byId.put(h.id(), h);
        if (firstHookedMs < 0) {
            firstHookedMs = sinceJvmStartMs();
        }
        long t1 = System.nanoTime();
        log.debug("hook phases: resolve {} ms, BTF merge {} ms, load and attach {} ms",
                (tResolved - t0) / 1_000_000, (tMerged - tResolved) / 1_000_000, (t1 - tMerged) / 1_000_000);
        log.info("hooked {} {} at {} (build-id {}, BTF {}{}): {} on {} in {} ms, {} ms after JVM start{}",
                lib.family(), version, file.path(), lib.buildId(), btf.selection().origin(),
                !btf.selection().checked() ? "" : btf.guarded()
                        ? ", not made for this build: every record is checked before it is reported"
                        : ", from btf.path, trusted as this build's",
                probes(h), probed(lib), (t1 - t0) / 1_000_000, sinceJvmStartMs(), sinceLinker());
        if (h.sites() != null) {
            log.debug("probe placement of {}: {}", file.path(), h.sites().describe());
        }
        // A check that failed before the library was registered here found nothing to detach.
        router.refusal(h.id()).ifPresent(problem -> unhook(h, problem));
    }

    /**
     * Hooks netty-tcnative's BoringSSL. netty drives it over a memory BIO only (see
     * {@link TlsLibrary#boringssl}), so the program reads no BoringSSL struct: the instance is
     * loaded with the kernel's BTF alone (for the CO-RE of the kernel types it uses), told
     * {@code memory_bio_only}, and every event of it has fd -1.
     *
     * <p>A record of such a library: {@code "lib":"boringssl","libVersion":"unknown"} (BoringSSL
     * has no version and netty-tcnative's file names none), {@code "libPath"} the name netty
     * extracted it to (e.g. {@code /tmp/libnetty_tcnative_linux_x86_64123.so}, deleted or not),
     * {@code "func":"SSL_read"|"SSL_write"}, {@code "ssl"} the {@code SSL*}, {@code "fd":-1}, no
     * {@code local}/{@code remote} from the kernel side (identity comes from the JVM side).
     */
    private void hookWithoutBtf(LibraryScanner.LibraryFile file, TlsLibrary lib, boolean mapped, long t0) {
        String version = "unknown";
        Hooked h;
        try {
            int id = nextId.getAndIncrement();
            router.add(id, new RecordDecoder(object.layout(),
                    new RecordDecoder.Source(lib.family(), version, file.path().toString()), monotonicToEpoch), null);
            long[] cookies = lib.functions().stream().mapToLong(f -> RecordRouter.cookie(id, f)).toArray();
            long[] offsets = lib.offsets().stream().mapToLong(Long::longValue).toArray();
            CaptureObject.Attached a;
            try {
                a = object.attach(config.get("kernel.btf"), settings, ring.fd(), pid, file.attachPath().toString(),
                        lib.functions(), offsets, true, cookies, lib.freeProbe(), attachMode, multiUsable, log::debug);
            } catch (BpfException | RuntimeException e) {
                router.remove(id);
                throw e;
            }
            h = new Hooked(id, lib, version, "none (memory BIO only)", a.object(), a.multi(), new AtomicBoolean(),
                    null);
        } catch (BpfException | RuntimeException e) {
            refuse(file, mapped, "not hooking {} at {}: {}", lib.family(), file.path(), e.getMessage());
            return;
        }
        hooked.put(file.fileKey(), h);
        byId.put(h.id(), h);
        long t1 = System.nanoTime();
        log.info("hooked {} (netty-tcnative) at {}{} (build-id {}, no BTF needed: memory BIO only): {} on {} in {} ms, "
                + "{} ms after JVM start{}", lib.family(), file.path(),
                file.deleted() ? " (deleted; attached through " + file.attachPath() + ")" : "", lib.buildId(),
                probes(h), probed(lib), (t1 - t0) / 1_000_000, sinceJvmStartMs(), sinceLinker());
    }

    /** How a hooked library's probes are attached, for its log line. */
    private static String probes(Hooked h) {
        return h.object().links().size() + (h.multi() ? " uprobe_multi links" : " uprobes");
    }

    /** The functions probed, for the log line. */
    private static String probed(TlsLibrary lib) {
        return String.join("/", lib.functions()) + (lib.freeProbe() != null ? "/" + lib.free() : "");
    }

    /** Sets what runs (on the ring thread) when the dynamic linker reports a change of the mapped libraries. */
    void onLibraryMapped(Runnable r) {
        this.onLinkerMapped = r;
    }

    /**
     * Probes the dynamic linker's {@code _dl_debug_state} in this process, so that a library
     * mapped by native code (dlopen from C) is looked for at once rather than at the next
     * periodic scan. Returns why it could not, as one line.
     */
    Optional<String> watchLinker() {
        Optional<LibraryScanner.Mapping> ld;
        try {
            ld = LibraryScanner.mappedFiles(java.nio.file.Files.readString(Path.of("/proc/self/maps"))).stream()
                    .filter(m -> Path.of(m.name()).getFileName().toString().startsWith("ld-linux")).findFirst();
        } catch (IOException e) {
            return Optional.of("cannot read /proc/self/maps (" + e + ")");
        }
        if (ld.isEmpty()) {
            return Optional.of("no dynamic linker (ld-linux*) mapped");
        }
        try {
            linkerObject = object.attachLinker(config.get("kernel.btf"), settings, ring.fd(), pid, ld.get().name());
            log.debug("probing the dynamic linker {}", ld.get().name());
            return Optional.empty();
        } catch (BpfException | RuntimeException e) {
            return Optional.of("cannot probe the dynamic linker " + ld.get().name() + " (" + e.getMessage() + ")");
        }
    }

    /** ", N ms after the dynamic linker reported it mapped" when the running scan was woken by the linker. */
    private String sinceLinker() {
        if (scanWokenAtNs == 0) {
            return "";
        }
        return String.format(Locale.ROOT, ", %.1f ms after the dynamic linker reported it mapped",
                (System.nanoTime() - scanWokenAtNs) / 1e6);
    }

    /**
     * Remembers not to try {@code file} again, and says why once: as a warning if the process
     * has it mapped, else at debug level (and as a warning once it is mapped).
     */
    private void refuse(LibraryScanner.LibraryFile file, boolean mapped, String format, Object... args) {
        if (mapped) {
            refused.add(file.fileKey());
            refusedQuietly.remove(file.fileKey());
            log.warn(format, args);
        } else {
            refusedQuietly.add(file.fileKey());
            log.debug(format, args);
        }
    }

    /**
     * Detaches the libraries the ring thread refused, on this thread: each detach waits for a
     * kernel grace period, and the ring thread must keep decoding every other library meanwhile.
     */
    private void unhookRefused() {
        try {
            while (true) {
                RecordRouter.Refusal r = refusals.take();
                Hooked h = byId.get(r.id());
                if (h != null) { // else its hook() is still running and unhooks it on arrival
                    unhook(h, r.problem());
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void unhook(Hooked h, String problem) {
        if (!h.unhooked().compareAndSet(false, true)) {
            return;
        }
        // said before the detach (tens of milliseconds), so that a JVM exiting meanwhile still says it
        log.warn("unhooked {} {} at {} (build-id {}): BTF {} does not describe this build: {}; nothing read "
                + "through it was reported; supply the BTF of this exact build in btf.path as {}.btf",
                h.library().family(), h.version(), h.library().path(), h.library().buildId(), h.origin(), problem,
                h.library().buildId());
        h.object().detach();
    }

    static long sinceJvmStartMs() {
        return ProcessHandle.current().info().startInstant()
                .map(s -> java.time.Duration.between(s, java.time.Instant.now()).toMillis()).orElse(-1L);
    }

    /** Where the JVM side writes what it knows of each TLS object, for the probes to stamp on records. */
    PeerMap peers() {
        return new PeerMap(peers, object.peerLayout());
    }

    /** The cookies of library {@code id} on the sites ProbePlacement chose. */
    private static CaptureObject.Sites sites(int id, ProbeSites p) {
        java.util.function.Function<List<ProbeSites.Site>, List<CaptureObject.Site>> map = l -> l.stream()
                .map(s -> new CaptureObject.Site(s.fileOffset(), RecordRouter.cookie(id, s.function()), s.function()))
                .toList();
        return new CaptureObject.Sites(map.apply(p.entries()), map.apply(p.returnProbes()), map.apply(p.exits()));
    }

    /** Ms after JVM start when the first probes were attached; -1 if none yet. */
    long firstHookedMs() {
        return firstHookedMs;
    }

    /** What is being hooked now and since when (ms after JVM start), or null. */
    String hooking() {
        String h = hooking;
        return h == null ? null : h + " (since " + hookingSinceMs + " ms after JVM start)";
    }

    int hookedCount() {
        return hooked.size();
    }

    /** The counters now: the kernel side's summed over every hooked library, and the router's. */
    CaptureStats stats(List<Dispatcher.SinkStats> sinks) {
        long[] sum = new long[CaptureCounter.values().length];
        for (Hooked h : hooked.values()) {
            try {
                long[] c = CaptureObject.counters(h.object(), sum.length);
                for (int i = 0; i < sum.length; i++) {
                    sum[i] += c[i];
                }
            } catch (BpfException e) {
                log.debug("cannot read counters: {}", e.getMessage());
            }
        }
        int moved = 0;
        int functions = 0;
        for (Hooked h : hooked.values()) {
            moved += h.moved();
            functions += h.library().functions().size();
        }
        return new CaptureStats(hooked.size(), sum, router.undecodable(), router.refusedRecords(), sinks, moved,
                functions - moved);
    }

    /**
     * Detaches every probe, then stops reading after one last drain of the ring, so that
     * everything the probes wrote is read. Each detach waits for the kernel to finish with the
     * probe (an RCU grace period, tens of milliseconds); done in parallel, those waits overlap.
     */
    void stop(long deadlineMs) {
        long end = System.nanoTime() + deadlineMs * 1_000_000;
        List<Thread> detaching = new ArrayList<>();
        BpfObject linker = linkerObject;
        if (linker != null) {
            for (UprobeLink link : linker.links()) {
                Thread t = new Thread(link::close, "btf-agent-detach");
                t.setDaemon(true);
                t.start();
                detaching.add(t);
            }
        }
        for (Hooked h : hooked.values()) {
            for (UprobeLink link : h.object().links()) {
                Thread t = new Thread(link::close, "btf-agent-detach");
                t.setDaemon(true);
                t.start();
                detaching.add(t);
            }
        }
        try {
            for (Thread t : detaching) {
                t.join(Math.max(1, (end - System.nanoTime()) / 1_000_000));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        poller.stop();
        try {
            pollerThread.join(deadlineMs);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        // refusals of the last records read, or not yet taken by the unhook thread, are still said
        for (RecordRouter.Refusal r; (r = refusals.poll()) != null; ) {
            Hooked h = byId.get(r.id());
            if (h != null) {
                unhook(h, r.problem());
            }
        }
        unhookThread.interrupt();
    }

    /**
     * {@link #stop}, then frees every object, the ring and the reader's descriptors: after it
     * the process holds nothing of the capture in the kernel, and no thread of it runs.
     */
    void close(long deadlineMs) {
        stop(deadlineMs);
        for (Hooked h : hooked.values()) {
            h.object().close();
        }
        hooked.clear();
        byId.clear();
        BpfObject linker = linkerObject;
        if (linker != null) {
            linker.close();
            linkerObject = null;
        }
        try {
            pollerThread.join(5_000);
            unhookThread.join(5_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        if (pollerThread.isAlive()) {
            log.warn("the ring reader did not stop; its ring stays mapped");
            return;
        }
        ring.close();
        poller.close();
        // the maps every library's object shared for connection identity; the objects are gone
        conns.close();
        connSeq.close();
        peers.close();
    }

    /** One line per hooked library: family, version, path, build-id, links. */
    List<String> hookedLibraries() {
        List<String> out = new ArrayList<>();
        for (Hooked h : hooked.values()) {
            out.add(h.library().family() + " " + h.version() + " at " + h.library().path() + " (build-id "
                    + h.library().buildId() + ", BTF " + h.origin() + ", " + h.object().links().size() + " links"
                    + (h.unhooked().get() ? ", unhooked: its BTF failed the check" : "") + ")");
        }
        out.sort(null);
        return out;
    }
}
