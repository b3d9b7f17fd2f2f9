package io.btfagent.bpf;

/**
 * The kernel maps every instance of the capture object shares: the one ring all of them write
 * their records to, and the connection maps ({@code conns}, {@code conn_seq}, {@code peers}:
 * conn ids, and what the JVM side reported per TLS object). Created before the first instance,
 * freed after the last.
 */
public final class SharedMaps {
    private final RingBuffer ring;
    private final BpfMap conns;
    private final BpfMap connSeq;
    private final BpfMap peers;
    private final BpfMap connClaims;
    private final ConnSequence sequence;

    private SharedMaps(RingBuffer ring, BpfMap conns, BpfMap connSeq, BpfMap peers, BpfMap connClaims,
            ConnSequence sequence) {
        this.ring = ring;
        this.conns = conns;
        this.connSeq = connSeq;
        this.peers = peers;
        this.connClaims = connClaims;
        this.sequence = sequence;
    }

    /**
     * Creates the maps and makes every instance of {@code object} loaded from now on use them.
     * {@code claimIds}: the probes take conn ids by inserting them into {@code conn_claims} (a
     * kernel without fetching atomics), so ids taken in Java are claimed the same way.
     */
    public static SharedMaps create(CaptureObject object, int ringBytes, boolean claimIds) throws BpfException {
        RingBuffer ring = RingBuffer.create(CaptureObject.RING_MAP, ringBytes);
        BpfMap conns = BpfMap.create(BpfMap.BPF_MAP_TYPE_LRU_HASH, "conns", 8, 8, CaptureObject.CONN_ENTRIES);
        BpfMap connSeq = BpfMap.create(BpfMap.BPF_MAP_TYPE_ARRAY, "conn_seq", 4, 8, 1, BpfMap.BPF_F_MMAPABLE);
        BpfMap peers = BpfMap.create(BpfMap.BPF_MAP_TYPE_LRU_HASH, "peers", 8, object.peerLayout().size(),
                CaptureObject.CONN_ENTRIES);
        // conn ids taken on kernels without fetching atomics (see ssl_capture.bpf.c)
        BpfMap connClaims = BpfMap.create(BpfMap.BPF_MAP_TYPE_LRU_HASH, "conn_claims", 8, 1,
                CaptureObject.CONN_ENTRIES);
        object.useConnMaps(new CaptureObject.ConnMaps(conns.fd(), connSeq.fd(), peers.fd(), connClaims.fd()));
        ConnSequence sequence;
        try {
            sequence = ConnSequence.map(connSeq.fd(), claimIds ? connClaims : null);
        } catch (BpfException | RuntimeException e) {
            ring.close();
            conns.close();
            connSeq.close();
            peers.close();
            connClaims.close();
            throw e;
        }
        return new SharedMaps(ring, conns, connSeq, peers, connClaims, sequence);
    }

    /** The conn counter every probe numbers from, for connections numbered in Java. */
    public ConnSequence sequence() {
        return sequence;
    }

    public RingBuffer ring() {
        return ring;
    }

    /** Where the JVM side writes what it knows of each TLS object, for the probes to stamp on records. */
    public BpfMap peers() {
        return peers;
    }

    /** Frees the maps; only once no instance and no reader uses them. */
    public void close() {
        sequence.close();
        ring.close();
        conns.close();
        connSeq.close();
        peers.close();
        connClaims.close();
    }
}
