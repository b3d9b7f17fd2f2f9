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
    private final ConnSequence sequence;

    private SharedMaps(RingBuffer ring, BpfMap conns, BpfMap connSeq, BpfMap peers, ConnSequence sequence) {
        this.ring = ring;
        this.conns = conns;
        this.connSeq = connSeq;
        this.peers = peers;
        this.sequence = sequence;
    }

    /** Creates the maps and makes every instance of {@code object} loaded from now on use them. */
    public static SharedMaps create(CaptureObject object, int ringBytes) throws BpfException {
        RingBuffer ring = RingBuffer.create(CaptureObject.RING_MAP, ringBytes);
        BpfMap conns = BpfMap.create(BpfMap.BPF_MAP_TYPE_LRU_HASH, "conns", 8, 8, CaptureObject.CONN_ENTRIES);
        BpfMap connSeq = BpfMap.create(BpfMap.BPF_MAP_TYPE_ARRAY, "conn_seq", 4, 8, 1, BpfMap.BPF_F_MMAPABLE);
        BpfMap peers = BpfMap.create(BpfMap.BPF_MAP_TYPE_LRU_HASH, "peers", 8, object.peerLayout().size(),
                CaptureObject.CONN_ENTRIES);
        object.useConnMaps(new CaptureObject.ConnMaps(conns.fd(), connSeq.fd(), peers.fd()));
        ConnSequence sequence;
        try {
            sequence = ConnSequence.map(connSeq.fd());
        } catch (BpfException | RuntimeException e) {
            ring.close();
            conns.close();
            connSeq.close();
            peers.close();
            throw e;
        }
        return new SharedMaps(ring, conns, connSeq, peers, sequence);
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
    }
}
