package io.btfagent.bpf;

import com.sun.jna.Memory;
import com.sun.jna.Pointer;
import io.btfagent.bpf.internal.Libbpf;
import io.btfagent.bpf.internal.LibbpfMulti;
import io.btfagent.bpf.internal.ProfilingSignals;
import java.lang.ref.Reference;
import java.util.ArrayList;
import java.util.List;

/**
 * A BPF ELF object opened with a custom BTF for CO-RE, then loaded into the kernel. Settings
 * ({@link #setRodataInt}, {@link #reuseMap}, {@link #useUprobeMulti}) apply between open and
 * {@link #load()}.
 * Closing detaches the object's links and frees its maps and programs.
 */
public final class BpfObject implements AutoCloseable {
    // struct bpf_object_open_opts (libbpf >= 1.0): sz@0, object_name@8, btf_custom_path@48.
    private static final int OPEN_OPTS_SZ = 56;
    // struct bpf_uprobe_opts: sz@0, ref_ctr_offset@8, bpf_cookie@16, retprobe@24, func_name@32.
    private static final int UPROBE_OPTS_SZ = 40;

    /** enum bpf_attach_type BPF_TRACE_UPROBE_MULTI (include/uapi/linux/bpf.h, kernel 6.6). */
    public static final int BPF_TRACE_UPROBE_MULTI = 48;
    // struct bpf_uprobe_multi_opts: sz@0, syms@8, offsets@16, ref_ctr_offsets@24, cookies@32,
    // cnt@40, retprobe@48 (libbpf >= 1.3; 1.5 adds session@49, same size).
    private static final int UPROBE_MULTI_OPTS_SZ = 56;

    private final String name;
    private final Memory image; // libbpf may refer to the ELF buffer until close
    private final List<UprobeLink> links = new ArrayList<>();
    private Pointer obj;

    private BpfObject(String name, Memory image, Pointer obj) {
        this.name = name;
        this.image = image;
        this.obj = obj;
    }

    /**
     * Opens an object from its ELF bytes. {@code btfCustomPath} is the BTF libbpf relocates
     * against; it replaces the kernel's, so it must hold the kernel types too (see BtfMerger).
     */
    public static BpfObject open(String name, byte[] elf, String btfCustomPath) throws BpfException {
        Memory image = new Memory(elf.length);
        image.write(0, elf, 0, elf.length);
        Memory objectName = cString(name);
        Memory btfPath = cString(btfCustomPath);
        Memory opts = new Memory(OPEN_OPTS_SZ);
        opts.clear();
        opts.setLong(0, OPEN_OPTS_SZ);
        opts.setPointer(8, objectName);
        opts.setPointer(48, btfPath);
        LibbpfLog.clear();
        Pointer obj = BpfException.check("bpf_object__open_mem(" + name + ")",
                Libbpf.bpf_object__open_mem(image, elf.length, opts));
        Reference.reachabilityFence(objectName); // referenced only from native memory until here
        Reference.reachabilityFence(btfPath);
        return new BpfObject(name, image, obj);
    }

    /** Sets a 32-bit {@code const volatile} global in .rodata, at its offset. */
    public void setRodataInt(long offset, int value) throws BpfException {
        rodata(offset, 4).setInt(0, value);
    }

    /** Sets a 64-bit {@code const volatile} global in .rodata, at its offset. */
    public void setRodataLong(long offset, long value) throws BpfException {
        rodata(offset, 8).setLong(0, value);
    }

    /** The {@code width} bytes at {@code offset} of the .rodata image libbpf will load. */
    private Pointer rodata(long offset, int width) throws BpfException {
        Pointer map = BpfException.check("find map .rodata", Libbpf.bpf_object__find_map_by_name(obj, ".rodata"));
        Memory size = new Memory(8);
        Pointer data = BpfException.check("bpf_map__initial_value(.rodata)", Libbpf.bpf_map__initial_value(map, size));
        if (offset < 0 || offset + width > size.getLong(0)) {
            throw new BpfException(".rodata offset " + offset + " outside the section", 22, "");
        }
        return data.share(offset);
    }

    public void reuseMap(String map, int fd) throws BpfException {
        BpfException.check("bpf_map__reuse_fd(" + map + ")", Libbpf.bpf_map__reuse_fd(findMap(map), fd));
    }


    /**
     * Loads {@code program} as a uprobe_multi program (kernel >= 6.6), which must be decided
     * before {@link #load()}; such a program attaches only with {@link #attachUprobeMulti}.
     */
    public void useUprobeMulti(String program) throws BpfException {
        Pointer prog = BpfException.check("find program " + program,
                Libbpf.bpf_object__find_program_by_name(obj, program));
        BpfException.check("bpf_program__set_expected_attach_type(" + program + ")",
                LibbpfMulti.bpf_program__set_expected_attach_type(prog, BPF_TRACE_UPROBE_MULTI));
    }

    /**
     * Attaches {@code program} to all {@code functions} of {@code binaryPath} as one uprobe_multi
     * link, firing only in process {@code pid}; {@code cookies[i]} is what the program reads
     * with bpf_get_attach_cookie for {@code functions[i]}. One link attaches and detaches in one
     * step, where single uprobes pay a kernel synchronisation each.
     */
    public UprobeLink attachUprobeMulti(String program, int pid, String binaryPath, java.util.List<String> functions,
            long[] cookies, boolean retprobe) throws BpfException {
        return attachUprobeMulti(program, pid, binaryPath, functions, null, cookies, retprobe);
    }

    /**
     * As {@link #attachUprobeMulti(String, int, String, java.util.List, long[], boolean)}, but
     * when {@code fileOffsets} is given the probes sit at those offsets in the file (for
     * functions the library does not export) and {@code functions} only names them.
     */
    public UprobeLink attachUprobeMulti(String program, int pid, String binaryPath, java.util.List<String> functions,
            long[] fileOffsets, long[] cookies, boolean retprobe) throws BpfException {
        Pointer prog = BpfException.check("find program " + program,
                Libbpf.bpf_object__find_program_by_name(obj, program));
        int n = functions.size();
        Memory[] names = new Memory[n];
        Memory syms = new Memory(8L * n);
        Memory offsetArray = new Memory(8L * n);
        Memory cookieArray = new Memory(8L * n);
        for (int i = 0; i < n; i++) {
            names[i] = cString(functions.get(i));
            syms.setPointer(8L * i, names[i]);
            offsetArray.setLong(8L * i, fileOffsets == null ? 0 : fileOffsets[i]);
            cookieArray.setLong(8L * i, cookies[i]);
        }
        Memory opts = new Memory(UPROBE_MULTI_OPTS_SZ);
        opts.clear();
        opts.setLong(0, UPROBE_MULTI_OPTS_SZ);
        if (fileOffsets == null) {
            opts.setPointer(8, syms);
        } else {
            opts.setPointer(16, offsetArray);
        }
        opts.setPointer(32, cookieArray);
        opts.setLong(40, n);
        opts.setByte(48, (byte) (retprobe ? 1 : 0));
        String what = (retprobe ? "uretprobe.multi " : "uprobe.multi ") + binaryPath + ":" + String.join(",", functions);
        LibbpfLog.clear();
        Pointer link = BpfException.check("attach " + what,
                LibbpfMulti.bpf_program__attach_uprobe_multi(prog, pid, binaryPath, null, opts));
        Reference.reachabilityFence(names); // the strings are referenced only from syms
        Reference.reachabilityFence(syms);
        Reference.reachabilityFence(offsetArray);
        Reference.reachabilityFence(cookieArray);
        UprobeLink l = new UprobeLink(what, link);
        synchronized (links) {
            links.add(l);
        }
        return l;
    }

    /**
     * Attaches {@code program} at the file offsets {@code offsets} of {@code binaryPath} as one
     * uprobe_multi link, firing only in process {@code pid}; {@code cookies[i]} is what the
     * program reads with bpf_get_attach_cookie at {@code offsets[i]}. {@code what} names the
     * probes in errors and logs.
     */
    public UprobeLink attachUprobeMultiAt(String program, int pid, String binaryPath, long[] offsets, long[] cookies,
            boolean retprobe, String what) throws BpfException {
        Pointer prog = BpfException.check("find program " + program,
                Libbpf.bpf_object__find_program_by_name(obj, program));
        int n = offsets.length;
        Memory offsetArray = new Memory(8L * n);
        Memory cookieArray = new Memory(8L * n);
        for (int i = 0; i < n; i++) {
            offsetArray.setLong(8L * i, offsets[i]);
            cookieArray.setLong(8L * i, cookies[i]);
        }
        Memory opts = new Memory(UPROBE_MULTI_OPTS_SZ);
        opts.clear();
        opts.setLong(0, UPROBE_MULTI_OPTS_SZ);
        opts.setPointer(16, offsetArray);
        opts.setPointer(32, cookieArray);
        opts.setLong(40, n);
        opts.setByte(48, (byte) (retprobe ? 1 : 0));
        String full = (retprobe ? "uretprobe.multi " : "uprobe.multi ") + binaryPath + ":" + what;
        LibbpfLog.clear();
        Pointer link = BpfException.check("attach " + full,
                LibbpfMulti.bpf_program__attach_uprobe_multi(prog, pid, binaryPath, null, opts));
        Reference.reachabilityFence(offsetArray);
        Reference.reachabilityFence(cookieArray);
        UprobeLink l = new UprobeLink(full, link);
        synchronized (links) {
            links.add(l);
        }
        return l;
    }

    /**
     * Attaches {@code program} at file offset {@code fileOffset} of {@code binaryPath}, firing
     * only in process {@code pid}; {@code what} names the probe in errors and logs.
     */
    public UprobeLink attachUprobeAt(String program, int pid, String binaryPath, long fileOffset, boolean retprobe,
            long cookie, String what) throws BpfException {
        Pointer prog = BpfException.check("find program " + program,
                Libbpf.bpf_object__find_program_by_name(obj, program));
        Memory opts = new Memory(UPROBE_OPTS_SZ);
        opts.clear();
        opts.setLong(0, UPROBE_OPTS_SZ);
        opts.setLong(16, cookie);
        opts.setByte(24, (byte) (retprobe ? 1 : 0));
        String full = (retprobe ? "uretprobe " : "uprobe ") + binaryPath + ":" + what;
        LibbpfLog.clear();
        Pointer link = BpfException.check("attach " + full,
                Libbpf.bpf_program__attach_uprobe_opts(prog, pid, binaryPath, fileOffset, opts));
        UprobeLink l = new UprobeLink(full, link);
        synchronized (links) {
            links.add(l);
        }
        return l;
    }

    /**
     * Runs a loaded {@code SEC("syscall")} program once through BPF_PROG_TEST_RUN with {@code
     * ctx} as its context (read back into {@code ctx} afterwards); returns the program's return
     * value. Used by benchmarks to produce records from the kernel side.
     */
    public int testRun(String program, Memory ctx) throws BpfException {
        Pointer prog = BpfException.check("find program " + program,
                Libbpf.bpf_object__find_program_by_name(obj, program));
        int fd = BpfException.check("bpf_program__fd(" + program + ")", Libbpf.bpf_program__fd(prog));
        Memory opts = new Memory(80); // struct bpf_test_run_opts (libbpf 1.x)
        opts.clear();
        opts.setLong(0, 80);
        opts.setPointer(32, ctx); // a syscall program's ctx is copied back into ctx_in; ctx_out is refused
        opts.setInt(48, (int) ctx.size());
        BpfException.check("bpf_prog_test_run_opts(" + program + ")", Libbpf.bpf_prog_test_run_opts(fd, opts));
        return opts.getInt(56);
    }

    /** Leaves {@code program} out of {@link #load()} (it cannot be attached then). */
    public void skipProgram(String program) throws BpfException {
        Pointer prog = BpfException.check("find program " + program,
                Libbpf.bpf_object__find_program_by_name(obj, program));
        BpfException.check("bpf_program__set_autoload(" + program + ")",
                Libbpf.bpf_program__set_autoload(prog, false));
    }

    /**
     * Verifies the programs, applying CO-RE relocations, and creates the maps. A sampling
     * profiler's signals are held meanwhile: the verifier abandons a program on any pending
     * signal (see {@link ProfilingSignals}).
     */
    public void load() throws BpfException {
        LibbpfLog.clear();
        try (ProfilingSignals held = ProfilingSignals.hold()) {
            BpfException.check("bpf_object__load(" + name + ")", Libbpf.bpf_object__load(obj));
        }
    }

    public int mapFd(String map) throws BpfException {
        return BpfException.check("bpf_map__fd(" + map + ")", Libbpf.bpf_map__fd(findMap(map)));
    }

    /**
     * Attaches {@code program} to {@code function} of the ELF at {@code binaryPath}, firing only
     * in process {@code pid}. {@code cookie} is what the program reads with bpf_get_attach_cookie.
     */
    public UprobeLink attachUprobe(String program, int pid, String binaryPath, String function, boolean retprobe,
            long cookie) throws BpfException {
        return attachUprobe(program, pid, binaryPath, function, 0, retprobe, cookie);
    }

    /**
     * As {@link #attachUprobe(String, int, String, String, boolean, long)}; with {@code function}
     * null the probe sits at {@code fileOffset} in the file (a function it does not export).
     */
    public UprobeLink attachUprobe(String program, int pid, String binaryPath, String function, long fileOffset,
            boolean retprobe, long cookie) throws BpfException {
        Pointer prog = BpfException.check("find program " + program,
                Libbpf.bpf_object__find_program_by_name(obj, program));
        Memory func = function == null ? null : cString(function);
        Memory opts = new Memory(UPROBE_OPTS_SZ);
        opts.clear();
        opts.setLong(0, UPROBE_OPTS_SZ);
        opts.setLong(16, cookie);
        opts.setByte(24, (byte) (retprobe ? 1 : 0));
        opts.setPointer(32, func);
        String what = (retprobe ? "uretprobe " : "uprobe ") + binaryPath + ":"
                + (function != null ? function : "0x" + Long.toHexString(fileOffset));
        LibbpfLog.clear();
        Pointer link = BpfException.check("attach " + what,
                Libbpf.bpf_program__attach_uprobe_opts(prog, pid, binaryPath, function == null ? fileOffset : 0, opts));
        Reference.reachabilityFence(func);
        UprobeLink l = new UprobeLink(what, link);
        synchronized (links) {
            links.add(l);
        }
        return l;
    }

    /**
     * Sums a per-CPU array of u64 counters: element {@code i} of the result is the total of key
     * {@code i} over all CPUs.
     */
    public long[] readPerCpuCounters(String map, int count) throws BpfException {
        int fd = mapFd(map);
        int cpus = BpfException.check("libbpf_num_possible_cpus", Libbpf.libbpf_num_possible_cpus());
        Memory key = new Memory(4);
        Memory values = new Memory(8L * cpus);
        long[] out = new long[count];
        for (int i = 0; i < count; i++) {
            key.setInt(0, i);
            BpfException.check("bpf_map_lookup_elem(" + map + ")", Libbpf.bpf_map_lookup_elem(fd, key, values));
            for (int c = 0; c < cpus; c++) {
                out[i] += values.getLong(8L * c);
            }
        }
        return out;
    }

    private Pointer findMap(String map) throws BpfException {
        return BpfException.check("find map " + map, Libbpf.bpf_object__find_map_by_name(obj, map));
    }

    private static Memory cString(String s) {
        byte[] b = s.getBytes(java.nio.charset.StandardCharsets.UTF_8);
        Memory m = new Memory(b.length + 1L);
        m.write(0, b, 0, b.length);
        m.setByte(b.length, (byte) 0);
        return m;
    }

    /** The object's links, to detach them elsewhere (e.g. in parallel). */
    public List<UprobeLink> links() {
        synchronized (links) {
            return List.copyOf(links);
        }
    }

    /** Detaches every link (the object stays loaded). */
    public void detach() {
        synchronized (links) {
            for (UprobeLink l : links) {
                l.close();
            }
            links.clear();
        }
    }

    /** Detaches every link, then frees the object. */
    @Override
    public synchronized void close() {
        synchronized (links) {
            for (UprobeLink l : links) {
                l.close();
            }
            links.clear();
        }
        if (obj != null) {
            Libbpf.bpf_object__close(obj);
            obj = null;
        }
        image.close();
    }
}
