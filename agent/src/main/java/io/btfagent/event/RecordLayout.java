package io.btfagent.event;

import io.btfagent.btf.BtfFile;

/**
 * Field offsets of {@code struct capture_header}, read from the BPF object's own BTF so the
 * C header stays the one definition of the record (bpf/src/main/bpf/capture_event.h).
 */
public record RecordLayout(int headerSize, int tsNs, int ssl, int callLen, int offset, int pid, int tid, int fd,
        int captured, int cookie, int flags, int comm, int family, int lport, int rport, int laddr, int raddr,
        int bioType, int role, int conn) {

    /** {@link RecordFlag#TRUNCATED}, kept for callers that test the bit. */
    public static final int FLAG_TRUNCATED = RecordFlag.TRUNCATED.bit();

    /** Reads the layout from the object's BTF; fails if the struct or a field is missing. */
    public static RecordLayout from(BtfFile objectBtf) {
        BtfFile.Struct h = objectBtf.struct("capture_header")
                .orElseThrow(() -> new IllegalStateException("BPF object BTF lacks struct capture_header"));
        return new RecordLayout((int) h.size(), off(h, "ts_ns"), off(h, "ssl"), off(h, "call_len"), off(h, "offset"),
                off(h, "pid"), off(h, "tid"), off(h, "fd"), off(h, "captured"), off(h, "cookie"), off(h, "flags"),
                off(h, "comm"), off(h, "family"), off(h, "lport"), off(h, "rport"), off(h, "laddr"), off(h, "raddr"),
                off(h, "bio_type"), off(h, "role"), off(h, "conn"));
    }

    private static int off(BtfFile.Struct s, String member) {
        return (int) s.offsetOf(member);
    }
}
