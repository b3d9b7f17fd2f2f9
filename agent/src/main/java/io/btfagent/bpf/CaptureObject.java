package io.btfagent.bpf;

import io.btfagent.btf.BtfFile;
import io.btfagent.btf.BtfFormatException;
import io.btfagent.elf.ElfFile;
import io.btfagent.event.PeerLayout;
import io.btfagent.event.RecordLayout;
import java.io.IOException;
import java.io.InputStream;
import java.util.List;
import java.util.function.Consumer;

/**
 * What the agent knows of its capture object ({@code ssl_capture.bpf.o}, built from
 * bpf/src/main/bpf): the ELF bytes bundled as a resource, the record layout from its BTF, where
 * its rodata settings live, its programs and maps. {@link #attach} makes one loaded, attached
 * instance of it for one library build: each build gets its own instance because CO-RE
 * resolves against one BTF.
 */
public final class CaptureObject {
    public static final String RESOURCE = "io/btfagent/bpf/ssl_capture.bpf.o";
    /** Name of the one ring the agent creates; every instance's {@code events} map is made to reuse it. */
    public static final String RING_MAP = "btf_agent_events";
    private static final String OBJECT_NAME = "ssl_capture";
    private static final String ENTRY_PROGRAM = "ssl_call_enter";
    /** The exit programs of ssl_capture.bpf.c, one per kernel generation (see {@link KernelFeatures}). */
    private static final String EXIT_LOOP = "ssl_call_exit";
    private static final String EXIT_BOUNDED = "ssl_call_exit_bounded";
    private static final String EXIT_CLAIM = "ssl_call_exit_claim";
    private static final List<String> EXIT_PROGRAMS = List.of(EXIT_LOOP, EXIT_BOUNDED, EXIT_CLAIM);
    /** Entry programs without attach cookies, indexed by enum capture_func. */
    private static final List<String> ENTRY_BY_FUNCTION = List.of("enter_ssl_read", "enter_ssl_read_ex",
            "enter_ssl_write", "enter_ssl_write_ex", "enter_gnutls_recv", "enter_gnutls_send");
    private static final String LINKER_PROGRAM = "linker_mapped";
    private static final String FREE_PROGRAM = "ssl_free_enter";
    /** The dynamic linker's hook for debuggers, called around every change of the loaded libraries. */
    private static final String LINKER_FUNCTION = "_dl_debug_state";
    /** COOKIE_LINKER_MAPPED of capture_event.h: the cookie of the linker probe's records (no library has id 0). */
    public static final int LINKER_COOKIE = 0;
    private static final String EVENTS_MAP = "events";
    private static final String COUNTERS_MAP = "counters";

    /** Largest ring: its data area is mapped twice in a row, which must stay within 2 GiB. */
    public static final int MAX_RING = 1 << 28;

    /** How probes attach: {@code auto} tries uprobe_multi and falls back to single uprobes. */
    public enum AttachMode {
        AUTO, SINGLE, MULTI
    }

    /**
     * The rodata settings of every instance, set between open and load. {@code pidNamespace}:
     * the JVM's pid namespace, whose numbers {@code targetTgid} and the records' pid/tid are in;
     * null: the initial namespace's numbers.
     */
    public record Settings(int maxCapture, int targetTgid, long wakeupBytes, PidNamespace pidNamespace) {
    }

    /** One loaded instance with its probes attached; {@code multi}: two uprobe_multi links. */
    public record Attached(BpfObject object, boolean multi) {
    }

    /** One probe: where in the library file, what the program reads with bpf_get_attach_cookie, for which function. */
    public record Site(long fileOffset, long cookie, String function) {
    }

    /**
     * Where an instance's probes go (io.btfagent.x86.ProbePlacement): the entry program at
     * {@code entries}, the exit program as uretprobes at {@code returns} and as plain uprobes
     * (seeing the return value before the function's {@code ret}) at {@code exits}.
     */
    public record Sites(List<Site> entries, List<Site> returns, List<Site> exits) {
    }

    /** Opens, loads and attaches one instance with its probes at {@code sites} (see {@link #attach}). */
    public Attached attachAt(String btfPath, Settings settings, int ringFd, int pid, String libraryPath, Sites sites,
            FreeProbe free, boolean memoryBioOnly, AttachMode mode, boolean multiUsable, Consumer<String> debug)
            throws BpfException {
        boolean multi = mode != AttachMode.SINGLE && multiUsable && features.attachCookie();
        try {
            return new Attached(load(btfPath, settings, ringFd, pid, libraryPath, null, null, memoryBioOnly, null,
                    free, sites, multi), multi);
        } catch (BpfException e) {
            if (!multi || mode == AttachMode.MULTI) {
                throw e;
            }
            debug.accept("uprobe_multi unavailable (" + e.getMessage() + "); attaching single uprobes");
            return new Attached(load(btfPath, settings, ringFd, pid, libraryPath, null, null, memoryBioOnly, null,
                    free, sites, false), false);
        }
    }

    private final byte[] elf;
    private final java.util.Set<String> kernelTypeNames;
    private final RecordLayout layout;
    private final PeerLayout peerLayout;
    private final long maxCaptureOffset;
    private final long targetTgidOffset;
    private final long pidnsDevOffset;
    private final long pidnsInoOffset;
    private final long wakeupBytesOffset;
    private final long memoryBioOnlyOffset;
    private final long libraryIdOffset;
    private volatile KernelFeatures features = KernelFeatures.ALL;

    private CaptureObject(byte[] elf) throws IOException {
        this.elf = elf;
        ElfFile file = ElfFile.of(elf, RESOURCE);
        BtfFile btf;
        try {
            btf = BtfFile.parse(file.section(".BTF")
                    .orElseThrow(() -> new IOException(RESOURCE + " has no .BTF section")));
        } catch (BtfFormatException e) {
            throw new IOException("BTF of " + RESOURCE + ": " + e.getMessage(), e);
        }
        try {
            this.kernelTypeNames = java.util.Set.copyOf(KernelBtfSubset.namesOf(file.section(".BTF").orElseThrow()));
        } catch (BtfFormatException e) {
            throw new IOException("BTF of " + RESOURCE + ": " + e.getMessage(), e);
        }
        this.layout = RecordLayout.from(btf);
        this.peerLayout = PeerLayout.from(btf);
        // The compiler leaves the offsets in the BTF's .rodata section as 0 (libbpf fills them in
        // at open from the symbol table), so they are read from the symbol table here too.
        this.maxCaptureOffset = setting(file, "max_capture");
        this.targetTgidOffset = setting(file, "target_tgid");
        this.pidnsDevOffset = setting(file, "pidns_dev");
        this.pidnsInoOffset = setting(file, "pidns_ino");
        this.wakeupBytesOffset = setting(file, "wakeup_bytes");
        this.memoryBioOnlyOffset = setting(file, "memory_bio_only");
        this.libraryIdOffset = setting(file, "library_id");
    }

    private static long setting(ElfFile file, String name) throws IOException {
        return file.symbolValue(name).orElseThrow(() -> new IOException(RESOURCE + " lacks the " + name + " setting"));
    }

    private static volatile CaptureObject bundled;

    /** The object bundled in the agent jar (read once; instances are opened from its bytes). */
    public static CaptureObject bundled() throws IOException {
        CaptureObject b = bundled;
        if (b == null) {
            try (InputStream in = CaptureObject.class.getClassLoader().getResourceAsStream(RESOURCE)) {
                if (in == null) {
                    throw new IOException("the agent jar lacks " + RESOURCE);
                }
                b = of(in.readAllBytes());
            }
            bundled = b;
        }
        return b;
    }

    /** The object from its ELF bytes. */
    public static CaptureObject of(byte[] elf) throws IOException {
        return new CaptureObject(elf);
    }

    /**
     * The names of the object's own struct, union and enum types: all its relocations can look
     * up in the kernel's BTF (see {@link BtfMerger#merge(String, java.util.Set, byte[])}).
     */
    public java.util.Set<String> kernelTypeNames() {
        return kernelTypeNames;
    }

    /** Where each field of a ring record is, from the object's own BTF. */
    public RecordLayout layout() {
        return layout;
    }

    /** The kernel wants a power of two that is a multiple of the page size. */
    public static int ringSize(long requested) {
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
     * uprobe_multi links exist since 6.6, but filter by process correctly only since 6.10
     * (commit 46ba0e49b642, "bpf: fix multi-uprobe PID filtering logic"); before that they
     * would miss every thread but one.
     */
    public static boolean kernelAtLeast(String osVersion, int major, int minor) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("^(\\d+)\\.(\\d+)").matcher(osVersion);
        if (!m.find()) {
            return false;
        }
        int maj = Integer.parseInt(m.group(1));
        return maj > major || (maj == major && Integer.parseInt(m.group(2)) >= minor);
    }

    /** Whether the bound libbpf and this kernel can attach uprobe_multi links that filter by pid. */
    public static boolean uprobeMultiUsable() {
        return io.btfagent.bpf.internal.LibbpfMulti.bind(io.btfagent.bpf.internal.Libbpf.boundPath())
                && uprobeMultiKernel(System.getProperty("os.version", ""));
    }

    /** Whether a kernel of release {@code osVersion} filters uprobe_multi links by pid (see {@link #kernelAtLeast}). */
    public static boolean uprobeMultiKernel(String osVersion) {
        return kernelAtLeast(osVersion, 6, 10);
    }

    /**
     * Opens, loads and attaches one instance for the library at {@code libraryPath}, probes on
     * {@code functions} with their {@code cookies}, records into {@code ringFd}. With
     * {@link AttachMode#AUTO} and {@code multiUsable}, uprobe_multi is tried first and a failure
     * falls back to one link per probe (said to {@code debug}). Closes the instance on failure.
     */
    public Attached attach(String btfPath, Settings settings, int ringFd, int pid, String libraryPath,
            List<String> functions, long[] cookies, AttachMode mode, boolean multiUsable, Consumer<String> debug)
            throws BpfException {
        return attach(btfPath, settings, ringFd, pid, libraryPath, functions, null, false, cookies, mode, multiUsable,
                debug);
    }

    /**
     * As {@link #attach(String, Settings, int, int, String, List, long[], AttachMode, boolean, Consumer)},
     * with the probes at {@code fileOffsets} (functions the library does not export, such as
     * BoringSSL's local ones; null: by name) and, with {@code memoryBioOnly}, the program told
     * that the library does all its I/O through memory BIOs: it then reads no library struct
     * and reports fd -1, and {@code btfPath} need only be the kernel's BTF. The library is
     * reached through {@code libraryPath}, which the kernel resolves to an inode at the attach:
     * a {@code /proc/self/map_files} link reaches a deleted library.
     */
    public Attached attach(String btfPath, Settings settings, int ringFd, int pid, String libraryPath,
            List<String> functions, long[] fileOffsets, boolean memoryBioOnly, long[] cookies, AttachMode mode,
            boolean multiUsable, Consumer<String> debug) throws BpfException {
        return attach(btfPath, settings, ringFd, pid, libraryPath, functions, fileOffsets, memoryBioOnly, cookies, null,
                mode, multiUsable, debug);
    }

    /**
     * As above, with {@code free} probed too: the library's function that frees a TLS object
     * ({@code SSL_free}, {@code gnutls_deinit}), which ends the object's conn; null: none.
     */
    public Attached attach(String btfPath, Settings settings, int ringFd, int pid, String libraryPath,
            List<String> functions, long[] fileOffsets, boolean memoryBioOnly, long[] cookies, FreeProbe free,
            AttachMode mode, boolean multiUsable, Consumer<String> debug) throws BpfException {
        boolean multi = mode != AttachMode.SINGLE && multiUsable && features.attachCookie();
        try {
            return new Attached(load(btfPath, settings, ringFd, pid, libraryPath, functions, fileOffsets, memoryBioOnly,
                    cookies, free, null, multi), multi);
        } catch (BpfException e) {
            if (!multi || mode == AttachMode.MULTI) {
                throw e;
            }
            // uprobe_multi needs kernel 6.6+: fall back to one link per probe
            debug.accept("uprobe_multi unavailable (" + e.getMessage() + "); attaching single uprobes");
            return new Attached(load(btfPath, settings, ringFd, pid, libraryPath, functions, fileOffsets, memoryBioOnly,
                    cookies, free, null, false), false);
        }
    }

    private void setProcess(BpfObject obj, Settings settings) throws BpfException {
        obj.setRodataInt(targetTgidOffset, settings.targetTgid());
        // in the initial namespace the kernel's own numbers are the JVM's: the program skips
        // bpf_get_ns_current_pid_tgid (about a tenth of a microsecond per probe)
        if (settings.pidNamespace() != null && !settings.pidNamespace().isInitial()) {
            obj.setRodataLong(pidnsDevOffset, settings.pidNamespace().kernelDev());
            obj.setRodataLong(pidnsInoOffset, settings.pidNamespace().inode());
        }
    }

    private BpfObject load(String btfPath, Settings settings, int ringFd, int pid, String path, List<String> functions,
            long[] fileOffsets, boolean memoryBioOnly, long[] cookies, FreeProbe free, Sites sites,
            boolean multi) throws BpfException {
        BpfObject obj = BpfObject.open(OBJECT_NAME, elf, btfPath);
        try {
            reuseConnMaps(obj);
            if (free == null) {
                obj.skipProgram(FREE_PROGRAM);
            }
            KernelFeatures f = features;
            String exitProgram = exitProgram(f);
            for (String p : EXIT_PROGRAMS) {
                if (!p.equals(exitProgram)) {
                    obj.skipProgram(p);
                }
            }
            long[] entryCookies = cookies;
            if (sites != null) {
                entryCookies = new long[sites.entries().size()];
                for (int i = 0; i < entryCookies.length; i++) {
                    entryCookies[i] = sites.entries().get(i).cookie();
                }
            }
            chooseEntryPrograms(obj, f, entryCookies);
            // the bounded loop copies at most this much: the agent said so when it probed the kernel
            obj.setRodataInt(maxCaptureOffset, f.bpfLoop() ? settings.maxCapture()
                    : Math.min(settings.maxCapture(), KernelFeatures.BOUNDED_MAX_CAPTURE));
            setProcess(obj, settings);
            obj.setRodataLong(wakeupBytesOffset, settings.wakeupBytes());
            obj.setRodataInt(memoryBioOnlyOffset, memoryBioOnly ? 1 : 0);
            obj.reuseMap(EVENTS_MAP, ringFd);
            obj.skipProgram(LINKER_PROGRAM);
            if (multi) {
                obj.useUprobeMulti(ENTRY_PROGRAM);
                obj.useUprobeMulti(exitProgram);
                if (free != null) {
                    obj.useUprobeMulti(FREE_PROGRAM);
                }
            }
            obj.load();
            if (sites != null) {
                if (free != null) {
                    attachFree(obj, pid, path, free, multi);
                }
                if (f.attachCookie()) {
                    attachSites(obj, ENTRY_PROGRAM, pid, path, sites.entries(), false, multi);
                } else {
                    // the program knows its function; libbpf refuses a cookie the kernel cannot keep
                    for (Site site : sites.entries()) {
                        attachSites(obj, entryProgram(site.cookie()), pid, path, withoutCookies(List.of(site)), false,
                                false);
                    }
                }
                List<Site> returns = f.attachCookie() ? sites.returns() : withoutCookies(sites.returns());
                List<Site> exits = f.attachCookie() ? sites.exits() : withoutCookies(sites.exits());
                attachSites(obj, exitProgram, pid, path, returns, true, multi);
                attachSites(obj, exitProgram, pid, path, exits, false, multi);
            } else if (multi) {
                obj.attachUprobeMulti(ENTRY_PROGRAM, pid, path, functions, fileOffsets, cookies, false);
                obj.attachUprobeMulti(exitProgram, pid, path, functions, fileOffsets, cookies, true);
                if (free != null) {
                    attachFree(obj, pid, path, free, true);
                }
            } else {
                if (free != null) {
                    attachFree(obj, pid, path, free, false);
                }
                for (int i = 0; i < cookies.length; i++) {
                    String fn = fileOffsets == null ? functions.get(i) : null;
                    long at = fileOffsets == null ? 0 : fileOffsets[i];
                    long cookie = f.attachCookie() ? cookies[i] : 0; // see withoutCookies
                    obj.attachUprobe(f.attachCookie() ? ENTRY_PROGRAM : entryProgram(cookies[i]), pid, path, fn, at,
                            false, cookie);
                    obj.attachUprobe(exitProgram, pid, path, fn, at, true, cookie);
                }
            }
            return obj;
        } catch (BpfException | RuntimeException e) {
            obj.close();
            throw e;
        }
    }

    /**
     * Loads the one instance that probes the dynamic linker at {@code linkerPath} (its
     * {@code _dl_debug_state}) in process {@code pid}: each call writes a record with cookie
     * {@link #LINKER_COOKIE} into {@code ringFd}. It reads no library struct: the kernel's BTF
     * ({@code kernelBtfPath}) suffices. With {@code multi} the probe is a uprobe_multi link
     * (a BPF link, which CAP_BPF and CAP_PERFMON allow), else a perf-event uprobe, which kernels
     * since 2025 grant only with CAP_SYS_ADMIN: inside a container that lacks it, only the first
     * works. Closes the instance on failure.
     */
    public BpfObject attachLinker(String kernelBtfPath, Settings settings, int ringFd, int pid, String linkerPath,
            boolean multi) throws BpfException {
        BpfObject obj = BpfObject.open(OBJECT_NAME, elf, kernelBtfPath);
        try {
            setProcess(obj, settings);
            obj.setRodataInt(memoryBioOnlyOffset, 1);
            obj.reuseMap(EVENTS_MAP, ringFd);
            reuseConnMaps(obj);
            obj.skipProgram(ENTRY_PROGRAM);
            for (String p : ENTRY_BY_FUNCTION) {
                obj.skipProgram(p);
            }
            for (String p : EXIT_PROGRAMS) {
                obj.skipProgram(p);
            }
            obj.skipProgram(FREE_PROGRAM);
            if (multi) {
                obj.useUprobeMulti(LINKER_PROGRAM);
            }
            obj.load();
            if (multi) {
                obj.attachUprobeMulti(LINKER_PROGRAM, pid, linkerPath, List.of(LINKER_FUNCTION),
                        new long[] {LINKER_COOKIE}, false);
            } else {
                obj.attachUprobe(LINKER_PROGRAM, pid, linkerPath, LINKER_FUNCTION, false, LINKER_COOKIE);
            }
            return obj;
        } catch (BpfException | RuntimeException e) {
            obj.close();
            throw e;
        }
    }

    /**
     * The maps every instance shares for connection identity (see ssl_capture.bpf.c: conns,
     * conn_seq, peers), created once by the caller: conn ids are then unique across libraries,
     * and no instance allocates maps of its own.
     */
    public record ConnMaps(int connsFd, int connSeqFd, int peersFd, int connClaimsFd) {
    }

    /** The function that frees a library's TLS object, by name or (not exported) file offset. */
    public record FreeProbe(String function, long fileOffset) {
    }

    /** Entries of the conns and peers maps, as ssl_capture.bpf.c declares them. */
    public static final int CONN_ENTRIES = 65536;

    private volatile ConnMaps connMaps;

    /**
     * Makes every instance loaded from now on use the programs {@code features} allow (see
     * {@link KernelFeatures}); until then, those of a kernel that has every feature.
     */
    public void useFeatures(KernelFeatures features) {
        this.features = features;
    }

    /** The features instances are loaded for. */
    public KernelFeatures features() {
        return features;
    }

    private static String exitProgram(KernelFeatures f) {
        if (!f.fetchAtomics()) {
            return EXIT_CLAIM;
        }
        return f.bpfLoop() ? EXIT_LOOP : EXIT_BOUNDED;
    }

    /**
     * {@code sites} with cookie 0: libbpf refuses to attach with any other where the kernel has
     * no attach cookies (the exit program reads the one its entry program stored).
     */
    private static List<Site> withoutCookies(List<Site> sites) {
        List<Site> out = new java.util.ArrayList<>(sites.size());
        for (Site s : sites) {
            out.add(new Site(s.fileOffset(), 0, s.function()));
        }
        return out;
    }

    /** The entry program of the function in {@code cookie}'s low byte, for kernels without attach cookies. */
    private static String entryProgram(long cookie) {
        int func = (int) (cookie & 0xff);
        if (func >= ENTRY_BY_FUNCTION.size()) {
            throw new IllegalArgumentException("no entry program for function " + func + " of enum capture_func");
        }
        return ENTRY_BY_FUNCTION.get(func);
    }

    /**
     * With attach cookies, the one entry program; without, the per-function ones of the
     * functions in {@code cookies}, the library id they all share set in rodata.
     */
    private void chooseEntryPrograms(BpfObject obj, KernelFeatures f, long[] cookies) throws BpfException {
        java.util.Set<String> used = new java.util.HashSet<>();
        if (f.attachCookie()) {
            used.add(ENTRY_PROGRAM);
        } else if (cookies != null && cookies.length > 0) {
            long library = cookies[0] >>> 8;
            for (long c : cookies) {
                if (c >>> 8 != library) {
                    throw new IllegalArgumentException("probes of one instance name two libraries: "
                            + library + " and " + (c >>> 8));
                }
                used.add(entryProgram(c));
            }
            obj.setRodataInt(libraryIdOffset, (int) library);
        }
        if (!used.contains(ENTRY_PROGRAM)) {
            obj.skipProgram(ENTRY_PROGRAM);
        }
        for (String p : ENTRY_BY_FUNCTION) {
            if (!used.contains(p)) {
                obj.skipProgram(p);
            }
        }
    }

    /** Makes every instance loaded from now on share {@code maps}. */
    public void useConnMaps(ConnMaps maps) {
        this.connMaps = maps;
    }

    /** The layout of struct conn_peer, the peers map's value. */
    public PeerLayout peerLayout() {
        return peerLayout;
    }

    private void reuseConnMaps(BpfObject obj) throws BpfException {
        ConnMaps m = connMaps;
        if (m != null) {
            obj.reuseMap("conns", m.connsFd());
            obj.reuseMap("conn_seq", m.connSeqFd());
            obj.reuseMap("peers", m.peersFd());
            obj.reuseMap("conn_claims", m.connClaimsFd());
        }
    }

    /** Attaches the program that ends a TLS object's conn to the library's free function. */
    private static void attachFree(BpfObject obj, int pid, String path, FreeProbe free, boolean multi)
            throws BpfException {
        if (multi) {
            obj.attachUprobeMulti(FREE_PROGRAM, pid, path, List.of(free.function()),
                    free.fileOffset() > 0 ? new long[] {free.fileOffset()} : null, new long[] {0}, false);
        } else {
            obj.attachUprobe(FREE_PROGRAM, pid, path, free.fileOffset() > 0 ? null : free.function(),
                    free.fileOffset(), false, 0);
        }
    }

    /** Attaches {@code program} at {@code sites}: one uprobe_multi link, or one link per site. */
    private static void attachSites(BpfObject obj, String program, int pid, String path, List<Site> sites,
            boolean retprobe, boolean multi) throws BpfException {
        if (sites.isEmpty()) {
            return;
        }
        // loops, not streams: this runs cold when a library is loaded late, and each stream
        // shape's first use costs classes and lambdas
        int n = sites.size();
        long[] offsets = new long[n];
        long[] cookies = new long[n];
        String[] names = new String[n];
        for (int i = 0; i < n; i++) {
            Site s = sites.get(i);
            offsets[i] = s.fileOffset();
            cookies[i] = s.cookie();
            names[i] = s.function() + "@0x" + Long.toHexString(s.fileOffset());
        }
        if (multi) {
            obj.attachUprobeMultiAt(program, pid, path, offsets, cookies, retprobe, String.join(",", names));
        } else {
            for (int i = 0; i < n; i++) {
                obj.attachUprobeAt(program, pid, path, offsets[i], retprobe, cookies[i], names[i]);
            }
        }
    }

    /** The instance's per-CPU counters (enum capture_counter), each summed over CPUs. */
    public static long[] counters(BpfObject instance, int count) throws BpfException {
        return instance.readPerCpuCounters(COUNTERS_MAP, count);
    }
}
