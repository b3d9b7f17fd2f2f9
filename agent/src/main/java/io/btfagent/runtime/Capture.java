package io.btfagent.runtime;

import ch.qos.logback.classic.Logger;
import io.btfagent.bpf.BpfException;
import io.btfagent.bpf.BpfObject;
import io.btfagent.bpf.RingBuffer;
import io.btfagent.bpf.RingBufferPoller;
import io.btfagent.bpf.UprobeLink;
import io.btfagent.bpf.internal.Libbpf;
import io.btfagent.bpf.internal.LibbpfMulti;
import io.btfagent.btf.BtfCatalog;
import io.btfagent.btf.BtfFile;
import io.btfagent.btf.BtfFormatException;
import io.btfagent.btf.BtfMerger;
import io.btfagent.config.AgentConfig;
import io.btfagent.elf.ElfFile;
import io.btfagent.event.BuildCheck;
import io.btfagent.event.RecordDecoder;
import io.btfagent.event.RecordLayout;
import io.btfagent.sink.Dispatcher;
import io.btfagent.tls.LibraryScanner;
import io.btfagent.tls.ProbeSites;
import io.btfagent.tls.TlsLibrary;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Hooks TLS libraries as they are found: picks the BTF of each build, loads one instance of the
 * capture object for it, attaches its probes to this process only, and feeds its ring buffer to
 * the sinks. Each library build gets its own object because CO-RE resolves against one BTF.
 */
final class Capture {
    private static final String OBJECT_RESOURCE = "io/btfagent/bpf/ssl_capture.bpf.o";
    private static final String ENTRY_PROGRAM = "ssl_call_enter";
    private static final String EXIT_PROGRAM = "ssl_call_exit";
    private static final String[] COUNTER_NAMES = {"calls", "records", "records lost (ring full)",
            "bytes lost (ring full)", "calls truncated", "bytes truncated", "bytes unreadable",
            "returns without entry", "QUIC objects skipped"};

    private final AgentConfig config;
    private final Logger log;
    private final BtfCatalog catalog;
    private final byte[] objectElf;
    private final RecordLayout layout;
    private final long maxCaptureOffset;
    private final long targetTgidOffset;
    private final long wakeupBytesOffset;
    private final int maxCapture;
    private final int ringBytes;
    private final String attachMode;
    private final boolean multiAvailable;
    private final int pid = (int) ProcessHandle.current().pid();
    private final long monotonicToEpoch = RecordDecoder.monotonicToEpochOffset();
    private final RingBufferPoller poller;
    private final Dispatcher dispatcher;
    private final Thread pollerThread;
    private final Map<String, Hooked> hooked = new ConcurrentHashMap<>();
    /** Where each library's records go, by library id; set before its probes can fire. */
    private final Map<Integer, Route> routes = new ConcurrentHashMap<>();
    private final java.util.concurrent.atomic.AtomicInteger nextId = new java.util.concurrent.atomic.AtomicInteger(1);
    /** The one ring every library's object writes to (its cookie says which library a record is of). */
    private final RingBuffer ring;
    private final Set<String> refused = ConcurrentHashMap.newKeySet();
    private final Set<String> refusedQuietly = ConcurrentHashMap.newKeySet();
    private final AtomicLong decodeFailures = new AtomicLong();
    private final AtomicLong refusedRecords = new AtomicLong();
    private final boolean fallback;
    /** When the first library's probes were attached (ms after JVM start), -1 before. */
    private volatile long firstHookedMs = -1;
    /** The library being hooked now, null between hooks: what an early exit interrupted. */
    private volatile String hooking;
    private volatile long hookingSinceMs;
    /** probe.placement: {@code emulated} puts probes on emulated instructions where provable; {@code entry} never moves them. */
    private final boolean placeProbes;
    private final List<String> families;

    /**
     * A library build with probes attached. Its records carry {@code id} in the cookie's upper
     * bits; {@code check} is set when its BTF was not made for this exact build.
     */
    private record Hooked(int id, TlsLibrary library, String version, BpfObject object, boolean multi,
            BtfCheck check, ProbeSites sites) {
    }

    /** How a library's records are decoded, and checked if its BTF was not made for the build. */
    private record Route(RecordDecoder decoder, BtfCheck check) {
    }

    Capture(AgentConfig config, Logger log, Dispatcher dispatcher) throws IOException, BpfException {
        this.config = config;
        this.log = log;
        this.dispatcher = dispatcher;
        String btfDir = config.get("btf.path");
        this.catalog = BtfCatalog.bundled(btfDir == null ? null : Path.of(btfDir));
        this.objectElf = resource(OBJECT_RESOURCE);
        BtfFile objectBtf;
        ElfFile objectFile = ElfFile.of(objectElf, OBJECT_RESOURCE);
        try {
            objectBtf = BtfFile.parse(objectFile.section(".BTF")
                    .orElseThrow(() -> new IOException(OBJECT_RESOURCE + " has no .BTF section")));
        } catch (BtfFormatException e) {
            throw new IOException("BTF of " + OBJECT_RESOURCE + ": " + e.getMessage(), e);
        }
        this.layout = RecordLayout.from(objectBtf);
        // The compiler leaves the offsets in the BTF's .rodata section as 0 (libbpf fills them in
        // at open from the symbol table), so they are read from the symbol table here too.
        this.maxCaptureOffset = objectFile.symbolValue("max_capture")
                .orElseThrow(() -> new IOException(OBJECT_RESOURCE + " lacks the max_capture setting"));
        this.targetTgidOffset = objectFile.symbolValue("target_tgid")
                .orElseThrow(() -> new IOException(OBJECT_RESOURCE + " lacks the target_tgid setting"));
        this.wakeupBytesOffset = objectFile.symbolValue("wakeup_bytes")
                .orElseThrow(() -> new IOException(OBJECT_RESOURCE + " lacks the wakeup_bytes setting"));
        this.maxCapture = (int) config.longValue("capture.max-bytes");
        this.ringBytes = ringSize(config.longValue("ring.bytes"));
        this.attachMode = config.get("attach.mode") == null ? "auto" : config.get("attach.mode");
        this.fallback = !"none".equals(config.get("btf.fallback"));
        String placement = config.get("probe.placement") == null ? "emulated" : config.get("probe.placement");
        if (!placement.equals("emulated") && !placement.equals("entry")) {
            log.warn("probe.placement={} is not emulated or entry; using emulated", placement);
        }
        this.placeProbes = !placement.equals("entry");
        this.families = config.list("libraries");
        this.multiAvailable = LibbpfMulti.bind(Libbpf.boundPath())
                && kernelAtLeast(System.getProperty("os.version", ""), 6, 10);
        this.ring = RingBuffer.create("btf_agent_events", ringBytes);
        this.poller = new RingBufferPoller();
        this.poller.add(ring, this::onRecord);
        this.pollerThread = new Thread(poller::run, "btf-agent-ring");
        this.pollerThread.setDaemon(true);
        this.pollerThread.start();
    }

    /**
     * uprobe_multi links exist since 6.6, but filter by process correctly only since 6.10
     * (commit 46ba0e49b642, "bpf: fix multi-uprobe PID filtering logic"); before that they
     * would miss every thread but one.
     */
    static boolean kernelAtLeast(String osVersion, int major, int minor) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("^(\\d+)\\.(\\d+)").matcher(osVersion);
        if (!m.find()) {
            return false;
        }
        int maj = Integer.parseInt(m.group(1));
        return maj > major || (maj == major && Integer.parseInt(m.group(2)) >= minor);
    }

    /** Largest ring: its data area is mapped twice in a row, which must stay within 2 GiB. */
    static final int MAX_RING = 1 << 28;

    /** The kernel wants a power of two that is a multiple of the page size. */
    static int ringSize(long requested) {
        if (requested >= MAX_RING) {
            return MAX_RING;
        }
        int size = 4096;
        while (size < requested) {
            size <<= 1;
        }
        return size;
    }

    /**
     * Hooks every TLS library this process has mapped and every one in the watched directories.
     * A watched library that cannot be hooked is noted quietly (at debug level): the application
     * may never load it. Once it is mapped, the reason is logged as a warning.
     */
    void scan(List<Path> watched) {
        try {
            for (LibraryScanner.LibraryFile f : LibraryScanner.scanSelf()) {
                consider(f, true);
            }
        } catch (IOException e) {
            log.warn("cannot read /proc/self/maps ({}); libraries loaded later are not hooked", e.toString());
        }
        // OpenSSL first: it is what the JVM stacks load (netty-tcnative, Tomcat, wildfly-openssl)
        List<LibraryScanner.LibraryFile> onDisk = new ArrayList<>(LibraryScanner.onDisk(watched));
        onDisk.sort(java.util.Comparator.comparing(
                f -> !LibraryScanner.family(f.path().getFileName().toString()).orElse("").equals("openssl")));
        for (LibraryScanner.LibraryFile f : onDisk) {
            consider(f, false);
        }
    }

    private void consider(LibraryScanner.LibraryFile f, boolean mapped) {
        String family = LibraryScanner.family(f.path().getFileName().toString()).orElse("");
        if (!families.isEmpty() && !families.contains(family)) {
            return;
        }
        if (hooked.containsKey(f.fileKey()) || refused.contains(f.fileKey())
                || (!mapped && refusedQuietly.contains(f.fileKey()))) {
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
            lib = TlsLibrary.open(file.path());
        } catch (IOException e) {
            refuse(file, mapped, "not hooking {}: {}", file.path(), e.getMessage());
            return;
        }
        // The catalog names the version of a build it knows; only other builds are read for it.
        Optional<BtfCatalog.Entry> known = catalog.entry(lib.family(), lib.buildId());
        Optional<String> reported = known.isPresent() ? Optional.of(known.get().version()) : lib.reportedVersion();
        Optional<BtfCatalog.Selection> btf;
        try {
            btf = catalog.select(lib.family(), lib.buildId(), reported.orElse("unknown"));
        } catch (IOException e) {
            refuse(file, mapped, "not hooking {}: {}", file.path(), e.getMessage());
            return;
        }
        // Only OpenSSL has a check (BuildCheck) that exposes a BTF of another layout.
        if (btf.isEmpty() && fallback && lib.family().equals("openssl") && reported.isPresent()) {
            try {
                btf = catalog.sameVersionLine(lib.family(), reported.get());
            } catch (IOException e) {
                log.debug("no version-line BTF: {}", e.getMessage());
            }
        }
        if (btf.isEmpty()) {
            refuse(file, mapped, "not hooking {} {} at {}: build-id {} is not in the BTF catalog{}; generate its BTF "
                    + "(native-targets) and put it in btf.path as {}.btf", lib.family(),
                    reported.orElse("(version unknown)"), file.path(), lib.buildId(),
                    lib.family().equals("openssl") && fallback ? " and no catalog build shares its version line" : "",
                    lib.buildId());
            return;
        }
        String version = btf.get().version();
        Optional<String> unusable = unusableBtf(lib.family(), btf.get().btf());
        if (unusable.isPresent()) {
            refuse(file, mapped, "not hooking {} {} at {}: BTF {} {}; regenerate it (native-targets) or remove it "
                    + "from btf.path", lib.family(), version, file.path(), btf.get().origin(), unusable.get());
            return;
        }
        long tResolved = System.nanoTime();
        Hooked h;
        long tMerged;
        try (BtfMerger.Merged merged = BtfMerger.merge(config.get("kernel.btf"), btf.get().btf())) {
            tMerged = System.nanoTime();
            boolean multi = !"single".equals(attachMode) && multiAvailable;
            int id = nextId.getAndIncrement();
            RecordDecoder decoder = new RecordDecoder(layout,
                    new RecordDecoder.Source(lib.family(), version, file.path().toString()), monotonicToEpoch);
            BtfCheck check = btf.get().checked() && lib.family().equals("openssl")
                    ? new BtfCheck(lib, file, btf.get().origin(), version) : null;
            ProbeSites sites = ProbeSites.plan(file.path(), lib.functions(), placeProbes);
            routes.put(id, new Route(decoder, check));
            try {
                h = load(id, lib, version, file, merged.path(), multi, check, sites);
            } catch (BpfException e) {
                if (!multi || "multi".equals(attachMode)) {
                    routes.remove(id);
                    throw e;
                }
                // uprobe_multi needs kernel 6.6+: fall back to one link per probe
                log.debug("uprobe_multi unavailable ({}); attaching single uprobes", e.getMessage());
                try {
                    h = load(id, lib, version, file, merged.path(), false, check, sites);
                } catch (BpfException | RuntimeException e2) {
                    routes.remove(id);
                    throw e2;
                }
            }
            if (check != null) {
                check.attach(h.object());
            }
        } catch (IOException | BpfException | RuntimeException e) {
            refuse(file, mapped, "not hooking {} {} at {}: {}", lib.family(), version, file.path(), e.getMessage());
            return;
        }
        hooked.put(file.fileKey(), h);
        if (firstHookedMs < 0) {
            firstHookedMs = sinceJvmStartMs();
        }
        long t1 = System.nanoTime();
        log.debug("hook phases: resolve {} ms, BTF merge {} ms, load and attach {} ms",
                (tResolved - t0) / 1_000_000, (tMerged - tResolved) / 1_000_000, (t1 - tMerged) / 1_000_000);
        log.info("hooked {} {} at {} (build-id {}, BTF {}{}): {} on {} in {} ms, {} ms after JVM start",
                lib.family(), version, file.path(), lib.buildId(), btf.get().origin(),
                !btf.get().checked() ? "" : h.check() != null
                        ? ", not made for this build: every record is checked before it is reported"
                        : ", from btf.path, trusted as this build's",
                h.multi() ? h.object().links().size() + " uprobe_multi links" : h.object().links().size() + " uprobes",
                String.join("/", lib.functions()), (t1 - t0) / 1_000_000, sinceJvmStartMs());
        log.debug("probe placement of {}: {}", file.path(), h.sites().describe());
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

    /** Opens, loads and attaches one instance of the object for {@code lib}; closes it on failure. */
    private Hooked load(int id, TlsLibrary lib, String version, LibraryScanner.LibraryFile file, String btfPath,
            boolean multi, BtfCheck check, ProbeSites sites) throws BpfException {
        BpfObject obj = BpfObject.open("ssl_capture", objectElf, btfPath);
        try {
            obj.setRodataInt(maxCaptureOffset, maxCapture);
            obj.setRodataInt(targetTgidOffset, pid);
            obj.setRodataLong(wakeupBytesOffset, ringBytes / 32);
            obj.reuseMap("events", ring.fd());
            if (multi) {
                obj.useUprobeMulti(ENTRY_PROGRAM);
                obj.useUprobeMulti(EXIT_PROGRAM);
            }
            obj.load();
            String path = file.path().toString();
            attach(obj, id, path, ENTRY_PROGRAM, sites.entries(), false, multi);
            attach(obj, id, path, EXIT_PROGRAM, sites.returnProbes(), true, multi);
            attach(obj, id, path, EXIT_PROGRAM, sites.exits(), false, multi);
            return new Hooked(id, lib, version, obj, multi, check, sites);
        } catch (BpfException | RuntimeException e) {
            obj.close();
            throw e;
        }
    }

    /** Attaches {@code program} at {@code sites}: one uprobe_multi link, or one link per site. */
    private void attach(BpfObject obj, int id, String path, String program, List<ProbeSites.Site> sites,
            boolean retprobe, boolean multi) throws BpfException {
        if (sites.isEmpty()) {
            return;
        }
        long[] offsets = sites.stream().mapToLong(ProbeSites.Site::fileOffset).toArray();
        long[] cookies = sites.stream().mapToLong(s -> cookie(id, s.function())).toArray();
        if (multi) {
            String what = String.join(",", sites.stream().map(s -> s.function() + "@0x"
                    + Long.toHexString(s.fileOffset())).toList());
            obj.attachUprobeMultiAt(program, pid, path, offsets, cookies, retprobe, what);
        } else {
            for (int i = 0; i < offsets.length; i++) {
                obj.attachUprobeAt(program, pid, path, offsets[i], retprobe, cookies[i],
                        sites.get(i).function() + "@0x" + Long.toHexString(offsets[i]));
            }
        }
    }

    /** What a probe tells the program: the library in the upper bits, the function (enum capture_func) below. */
    static long cookie(int libraryId, String function) {
        return ((long) libraryId << 8) | TlsLibrary.functionId(function);
    }

    /** Called on the ring thread for every record of every library. */
    private void onRecord(java.nio.ByteBuffer record) {
        try {
            Route r = routes.get(record.getInt(layout.cookie()) >>> 8);
            if (r == null) {
                throw new IllegalArgumentException("record of no hooked library (cookie "
                        + Integer.toHexString(record.getInt(layout.cookie())) + ")");
            }
            if (r.check() == null || r.check().passes(record)) {
                dispatcher.publish(r.decoder().decode(record));
            }
        } catch (RuntimeException e) {
            if (decodeFailures.incrementAndGet() == 1) {
                log.warn("dropped an undecodable record: {}", e.getMessage());
            }
        }
    }

    /**
     * Why a BTF cannot describe an OpenSSL build: not parseable, or missing the structs the
     * program reads. Checked before libbpf sees it, for a message that names the problem.
     */
    static Optional<String> unusableBtf(String family, byte[] btf) {
        try {
            BtfFile parsed = BtfFile.parse(btf);
            List<String> needed = family.equals("gnutls") ? List.of("gnutls_session_int")
                    : List.of("ssl_st", "bio_st", "bio_method_st");
            for (String struct : needed) {
                if (parsed.struct(struct).isEmpty()) {
                    return Optional.of("has no struct " + struct);
                }
            }
            return Optional.empty();
        } catch (BtfFormatException e) {
            return Optional.of("is corrupt (" + e.getMessage() + ")");
        }
    }

    /**
     * Guards a library hooked with a BTF not made for its exact build: each record must pass
     * {@link BuildCheck}; at the first that does not, the library's probes are detached and
     * nothing more of it is reported.
     */
    private final class BtfCheck {
        private final TlsLibrary lib;
        private final LibraryScanner.LibraryFile file;
        private final String origin;
        private final String version;
        private final BuildCheck check = new BuildCheck(layout);
        private volatile BpfObject object;
        private volatile boolean condemned;

        BtfCheck(TlsLibrary lib, LibraryScanner.LibraryFile file, String origin, String version) {
            this.lib = lib;
            this.file = file;
            this.origin = origin;
            this.version = version;
        }

        /** The object whose probes are detached when the check fails (or has failed already). */
        void attach(BpfObject loaded) {
            this.object = loaded;
            if (condemned) {
                loaded.detach();
            }
        }

        /** Called on the ring thread only. */
        boolean passes(java.nio.ByteBuffer record) {
            if (condemned) {
                refusedRecords.incrementAndGet();
                return false;
            }
            Optional<String> problem = check.problem(record);
            if (problem.isEmpty()) {
                return true;
            }
            condemned = true;
            refusedRecords.incrementAndGet();
            if (object != null) {
                object.detach();
            }
            log.warn("unhooked {} {} at {} (build-id {}): BTF {} does not describe this build: {}; nothing read "
                    + "through it was reported; supply the BTF of this exact build in btf.path as {}.btf",
                    lib.family(), version, file.path(), lib.buildId(), origin, problem.get(), lib.buildId());
            return false;
        }
    }

    static long sinceJvmStartMs() {
        return ProcessHandle.current().info().startInstant()
                .map(s -> java.time.Duration.between(s, java.time.Instant.now()).toMillis()).orElse(-1L);
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

    /** Kernel-side counters summed over every hooked library, by name. */
    Map<String, Long> counters() {
        long[] sum = new long[COUNTER_NAMES.length];
        for (Hooked h : hooked.values()) {
            try {
                long[] c = h.object().readPerCpuCounters("counters", COUNTER_NAMES.length);
                for (int i = 0; i < sum.length; i++) {
                    sum[i] += c[i];
                }
            } catch (BpfException e) {
                log.debug("cannot read counters: {}", e.getMessage());
            }
        }
        Map<String, Long> out = new LinkedHashMap<>();
        for (int i = 0; i < sum.length; i++) {
            out.put(COUNTER_NAMES[i], sum[i]);
        }
        int moved = 0;
        int functions = 0;
        for (Hooked h : hooked.values()) {
            moved += h.sites().moved();
            functions += h.sites().placements().size();
        }
        // which placement each hooked function got (probe.placement)
        out.put("functions probed on emulated instructions", (long) moved);
        out.put("functions probed at entry", (long) (functions - moved));
        out.put("records undecodable", decodeFailures.get());
        out.put("records refused (BTF check)", refusedRecords.get());
        return out;
    }

    /**
     * Detaches every probe, then stops reading after one last drain of the ring, so that
     * everything the probes wrote is read. Each detach waits for the kernel to finish with the
     * probe (an RCU grace period, tens of milliseconds); done in parallel, those waits overlap.
     */
    void stop(long deadlineMs) {
        long end = System.nanoTime() + deadlineMs * 1_000_000;
        List<Thread> detaching = new ArrayList<>();
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
    }

    private static byte[] resource(String name) throws IOException {
        try (InputStream in = Capture.class.getClassLoader().getResourceAsStream(name)) {
            if (in == null) {
                throw new IOException("the agent jar lacks " + name);
            }
            return in.readAllBytes();
        }
    }
}
