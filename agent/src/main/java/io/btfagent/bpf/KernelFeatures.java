package io.btfagent.bpf;

import com.sun.jna.Memory;
import io.btfagent.bpf.internal.LibC;
import io.btfagent.bpf.internal.Libbpf;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;

/**
 * What the running kernel's BPF can do of what the capture object would use, found by asking the
 * kernel (test loads), never from its version: vendors (RHEL and its rebuilds) backport BPF
 * features to older version numbers, and a version says nothing of a kernel's configuration.
 * Each feature missing has a replacement in the object (see ssl_capture.bpf.c), which gives the
 * same records:
 * <ul>
 * <li>{@code attachCookie}, bpf_get_attach_cookie (5.15): else one entry program per function,
 * the library id in rodata; uprobe_multi links need cookies, so probes are then single ones;</li>
 * <li>{@code bpfLoop}, bpf_loop (5.17): else a bounded loop, which keeps capture.max-bytes within
 * {@link #BOUNDED_MAX_CAPTURE};</li>
 * <li>{@code fetchAtomics}, atomic adds that return the old value (5.12): else conn ids are
 * taken through a map insert only one CPU can win.</li>
 * </ul>
 */
public record KernelFeatures(boolean attachCookie, boolean bpfLoop, boolean fetchAtomics) {
    /** Every feature, as on any kernel since 5.17. */
    public static final KernelFeatures ALL = new KernelFeatures(true, true, true);

    /** CAPTURE_BOUNDED_CHUNKS * CAPTURE_CHUNK of capture_event.h: the most a call keeps without bpf_loop. */
    public static final int BOUNDED_MAX_CAPTURE = 64 * 8192;

    /** The names {@code kernel.assume-missing} takes, in the order of the record's components. */
    public static final List<String> NAMES = List.of("attach-cookie", "bpf-loop", "fetch-atomics");

    private static final int BPF_PROG_TYPE_SOCKET_FILTER = 1;
    private static final int BPF_PROG_TYPE_KPROBE = 2;
    private static final int BPF_FUNC_GET_ATTACH_COOKIE = 174;
    private static final int BPF_FUNC_LOOP = 181;
    /** enum bpf_map_type BPF_MAP_TYPE_RINGBUF (5.8). */
    private static final int BPF_MAP_TYPE_RINGBUF = 27;

    /**
     * The features the kernel has, asked with the bound libbpf's helper probes and a test load;
     * those named in {@code assumeMissing} ({@link #NAMES}) are treated as missing whatever the
     * kernel says (to run the replacements on a kernel that has everything).
     */
    public static KernelFeatures probe(Set<String> assumeMissing) {
        return new KernelFeatures(
                !assumeMissing.contains("attach-cookie") && helper(BPF_FUNC_GET_ATTACH_COOKIE),
                !assumeMissing.contains("bpf-loop") && helper(BPF_FUNC_LOOP),
                !assumeMissing.contains("fetch-atomics") && fetchAtomicsLoad());
    }

    /** Whether the kernel has BPF ring buffers (5.8), which the capture cannot do without. */
    public static boolean ringBuffer() {
        return Libbpf.libbpf_probe_bpf_map_type(BPF_MAP_TYPE_RINGBUF, null) == 1;
    }

    /**
     * Why making a BPF ring buffer fails here: 0 when it works, else the errno of one made and
     * closed at once. EPERM or EACCES is a refusal (a seccomp filter, missing capabilities), not a
     * kernel without ring buffers, which libbpf's probe cannot tell apart.
     */
    public static int ringBufferErrno() {
        int fd = Libbpf.bpf_map_create(BPF_MAP_TYPE_RINGBUF, "btf_agent_try", 0, 0, 4096, null);
        if (fd >= 0) {
            io.btfagent.bpf.internal.LibC.close(fd);
            return 0;
        }
        return -fd;
    }

    private static boolean helper(int id) {
        return Libbpf.libbpf_probe_bpf_helper(BPF_PROG_TYPE_KPROBE, id, null) == 1;
    }

    /**
     * Loads {@code *(u64 *)(r10 - 8) = 0; r1 = 1; r1 = atomic_fetch_add(*(u64 *)(r10 - 8), r1);
     * return 0}: a kernel before 5.12 refuses the instruction ("BPF_STX uses reserved fields").
     */
    private static boolean fetchAtomicsLoad() {
        long[] insns = {
            insn(0xb7, 1, 0, 0, 0),      // r1 = 0
            insn(0x7b, 10, 1, -8, 0),    // *(u64 *)(r10 - 8) = r1
            insn(0xb7, 1, 0, 0, 1),      // r1 = 1
            insn(0xdb, 10, 1, -8, 0x01), // r1 = atomic_fetch_add((u64 *)(r10 - 8), r1)
            insn(0xb7, 0, 0, 0, 0),      // r0 = 0
            insn(0x95, 0, 0, 0, 0),      // exit
        };
        Memory m = new Memory(8L * insns.length);
        for (int i = 0; i < insns.length; i++) {
            m.setLong(8L * i, insns[i]);
        }
        int fd = Libbpf.bpf_prog_load(BPF_PROG_TYPE_SOCKET_FILTER, "fetch_probe", "GPL", m, insns.length, null);
        if (fd < 0) {
            return false;
        }
        LibC.close(fd);
        return true;
    }

    /** struct bpf_insn as a little-endian u64: code, dst_reg:4 | src_reg:4, off, imm. */
    static long insn(int code, int dst, int src, int off, int imm) {
        return (code & 0xffL) | (long) ((src << 4 | dst) & 0xff) << 8 | (off & 0xffffL) << 16
                | ((long) imm & 0xffffffffL) << 32;
    }

    /** The features missing, each with the kernel release that brought it, e.g. "bpf_loop (5.17)". */
    public List<String> missing() {
        List<String> out = new ArrayList<>();
        if (!attachCookie) {
            out.add("bpf_get_attach_cookie (5.15)");
        }
        if (!fetchAtomics) {
            out.add("fetching atomics (5.12)");
        }
        if (!bpfLoop) {
            out.add("bpf_loop (5.17)");
        }
        return out;
    }

    /** How the capture object runs with these features, in a few words for a log line. */
    public String mode() {
        return (attachCookie ? "one entry program, attach cookies" : "one entry program per function")
                + (bpfLoop ? ", bpf_loop" : ", bounded copy loop (at most " + BOUNDED_MAX_CAPTURE / 1024 + " KiB a call)")
                + (fetchAtomics ? "" : ", conn ids by map insert");
    }
}
