package io.btfagent.event;

import io.btfagent.btf.BtfFile;

/**
 * Field offsets of {@code struct conn_peer}, the value of the peers map the agent writes for
 * the program to stamp on records, read from the BPF object's own BTF like {@link RecordLayout}.
 */
public record PeerLayout(int size, int role, int family, int lport, int rport, int laddr, int raddr) {

    public static PeerLayout from(BtfFile objectBtf) {
        BtfFile.Struct p = objectBtf.struct("conn_peer")
                .orElseThrow(() -> new IllegalStateException("BPF object BTF lacks struct conn_peer"));
        return new PeerLayout((int) p.size(), off(p, "role"), off(p, "family"), off(p, "lport"), off(p, "rport"),
                off(p, "laddr"), off(p, "raddr"));
    }

    private static int off(BtfFile.Struct s, String member) {
        return (int) s.offsetOf(member);
    }
}
