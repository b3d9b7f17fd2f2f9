package io.btfagent.sink.pcapng;

import io.btfagent.event.CaptureEvent;
import io.btfagent.files.RotatingFile;
import io.btfagent.sink.FileSinkSettings;
import io.btfagent.sink.Sink;
import io.btfagent.sink.SinkContext;
import io.btfagent.sink.SinkProvider;
import io.btfagent.sink.SinkSetting;
import io.btfagent.sink.SinkUnavailable;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.nio.channels.FileChannel;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * Writes events as a pcapng capture Wireshark and tshark can follow: each connection becomes
 * one TCP stream (a handshake, then one segment per record, sequence numbers counting every
 * byte the calls transferred, so bytes that were not captured show as gaps), egress going
 * from the agent's side to the peer. Addresses are the connection's real ones when the event
 * has them, else stable made-up ones: 10.1.x.y for our side (x.y numbering the connections
 * in order of appearance) with a port derived from the pid, 10.2.0.1:443 for the peer. Each packet's comment names pid, thread,
 * library, function and TLS object. Files are owner-only and rotated like the jsonl sink's;
 * each file starts with its own header and, for each connection, a handshake. A write that
 * fails (a full disk) leaves no partial block: the file is cut back and the packets not written
 * are held and written whole later (see {@link RotatingFile}).
 */
public final class PcapngSink implements Sink {

    private final RotatingFile file;
    private final Map<Long, Flow> flows = new HashMap<>();
    /** Connections whose handshake is in the file being filled. */
    private final Set<Long> inThisFile = new HashSet<>();
    private final AtomicLong packets = new AtomicLong();
    private final AtomicLong rotations = new AtomicLong();
    private final AtomicLong moves = new AtomicLong();
    private final AtomicLong torn = new AtomicLong();
    private int nextSynthetic = 1;

    private final AtomicLong damaged = new AtomicLong();
    private final Consumer<String> notices;

    public PcapngSink(Path path, long maxBytes, int keep, Consumer<String> notices) throws IOException {
        this(path, maxBytes, keep, Sink.DEFAULT_MAX_HOLD_MS, notices);
    }

    /** @param holdMs how long packets wait while the file cannot be written (then they fail) */
    public PcapngSink(Path path, long maxBytes, int keep, long holdMs, Consumer<String> notices) throws IOException {
        this.notices = notices;
        this.file = new RotatingFile(path, maxBytes, keep, this::begin, notices);
        this.file.holdAtMost(holdMs);
        this.holdMs = holdMs;
    }

    private final long holdMs;

    /**
     * A new section header for every file opened (pcapng allows several sections in one file).
     * An existing file whose last block was cut short (the JVM was killed while writing it) is
     * cut back to its last whole block first, so readers do not stop at the torn one.
     */
    private byte[] begin(Path path, long size) throws IOException {
        if (size > 0) {
            long whole = Pcapng.wholeBlocks(path, size);
            if (whole < size) {
                try (FileChannel ch = FileChannel.open(path, StandardOpenOption.WRITE, LinkOption.NOFOLLOW_LINKS)) {
                    ch.truncate(whole);
                }
                long n = damaged.incrementAndGet();
                notices.accept(path + " ended in a partial block (a run stopped while writing it); the last "
                        + (size - whole) + " bytes were cut off so that readers see every whole block (damaged blocks: "
                        + n + ")");
            }
        }
        return Pcapng.header();
    }

    /**
     * The connection an event belongs to: its {@code conn}, or where the kernel could not number
     * the TLS object, the object's address. The one place that decides it.
     */
    static long connection(CaptureEvent e) {
        return e.conn() != 0 ? e.conn() : e.ssl();
    }

    /** Whether the agent's side is the TLS server of this connection; unknown means client. */
    static boolean localIsServer(CaptureEvent e) {
        return "server".equals(e.role());
    }

    /** One connection: its endpoints and, per direction, where the current call starts. */
    private static final class Flow {
        final InetAddress client;
        final int clientPort;
        final InetAddress server;
        final int serverPort;
        final String label;
        /** [0] client to server, [1] server to client: next sequence number, current call's start and length. */
        final long[] next = {1, 1};
        final long[] callStart = {1, 1};
        final long[] callLen = {0, 0};

        Flow(InetAddress client, int clientPort, InetAddress server, int serverPort, String label) {
            this.client = client;
            this.clientPort = clientPort;
            this.server = server;
            this.serverPort = serverPort;
            this.label = label;
        }
    }

    private Flow flow(CaptureEvent e) {
        return flows.computeIfAbsent(connection(e), c -> {
            String label = "ssl=0x" + Long.toHexString(e.ssl());
            InetAddress[] local = new InetAddress[1];
            InetAddress[] remote = new InetAddress[1];
            int lp = parse(e.local(), local);
            int rp = parse(e.remote(), remote);
            boolean server = localIsServer(e);
            if (lp > 0 && rp > 0 && local[0].getClass() == remote[0].getClass()) {
                return server ? new Flow(remote[0], rp, local[0], lp, label) : new Flow(local[0], lp, remote[0], rp, label);
            }
            // one address per connection; the port differs per process, so runs appended to
            // one file never share a stream
            int n = nextSynthetic++;
            InetAddress ours = ip(10, 1, (n >> 8) & 0xff, n & 0xff);
            InetAddress peer = ip(10, 2, 0, 1);
            int ourPort = 1024 + Math.floorMod(e.pid(), 64000);
            return server ? new Flow(peer, ourPort, ours, 443, label) : new Flow(ours, ourPort, peer, 443, label);
        });
    }

    /** {@code 127.0.0.1:8443} or {@code [::1]:8443}: the port, and the address in {@code out[0]}; 0 if not one. */
    static int parse(String hostPort, InetAddress[] out) {
        if (hostPort == null) {
            return 0;
        }
        int colon = hostPort.lastIndexOf(':');
        if (colon <= 0) {
            return 0;
        }
        String host = hostPort.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]")) {
            host = host.substring(1, host.length() - 1);
        } else if (!host.matches("[0-9.]+")) {
            return 0; // only numeric literals: never a name lookup
        }
        try {
            int port = Integer.parseInt(hostPort.substring(colon + 1));
            if (port <= 0 || port > 65535 || !host.matches("[0-9a-fA-F:.]+")) {
                return 0;
            }
            out[0] = InetAddress.getByName(host);
            return port;
        } catch (NumberFormatException | UnknownHostException e) {
            return 0;
        }
    }

    private static InetAddress ip(int a, int b, int c, int d) {
        try {
            return InetAddress.getByAddress(new byte[] {(byte) a, (byte) b, (byte) c, (byte) d});
        } catch (UnknownHostException e) {
            throw new IllegalStateException(e);
        }
    }

    @Override
    public void accept(CaptureEvent e) {
        Flow f = flow(e);
        boolean clientSends = e.egress() != localIsServer(e);
        int d = clientSends ? 0 : 1;
        if (e.offset() == 0) {
            f.next[d] = Math.max(f.next[d], f.callStart[d] + f.callLen[d]);
            f.callStart[d] = f.next[d];
            f.callLen[d] = e.len();
        }
        long seq = f.callStart[d] + e.offset();
        String comment = "pid=" + e.pid() + " tid=" + e.tid() + " thread=" + e.thread() + " lib=" + e.lib() + " "
                + e.libVersion() + " " + e.libPath() + " func=" + e.func() + " " + f.label + " len=" + e.len()
                + " offset=" + e.offset() + (e.truncated() ? " truncated" : "") + (e.redacted() ? " redacted" : "");
        ByteArrayOutputStream rec = new ByteArrayOutputStream();
        byte[] data = e.data();
        long ackNext = f.next[1 - d];
        for (int off = 0; off < data.length || off == 0; off += TcpSegment.MAX_PAYLOAD) {
            int n = Math.min(TcpSegment.MAX_PAYLOAD, data.length - off);
            byte[] pkt = clientSends
                    ? TcpSegment.build(f.client, f.clientPort, f.server, f.serverPort, seq + off, ackNext,
                            TcpSegment.ACK | TcpSegment.PSH, data, off, n)
                    : TcpSegment.build(f.server, f.serverPort, f.client, f.clientPort, seq + off, ackNext,
                            TcpSegment.ACK | TcpSegment.PSH, data, off, n);
            rec.writeBytes(Pcapng.packet(e.epochNanos(), pkt, comment));
            packets.incrementAndGet();
            if (data.length == 0) {
                break;
            }
        }
        f.next[d] = Math.max(f.next[d], seq + data.length);
        long key = connection(e);
        byte[] record = rec.toByteArray();
        if (file.wouldStartNewFile(record.length)) {
            inThisFile.clear();
        }
        if (inThisFile.add(key)) {
            byte[] hs = handshake(f, e.epochNanos(), d == 0 ? seq : f.next[0], d == 1 ? seq : f.next[1]);
            if (file.wouldStartNewFile(hs.length + record.length)) {
                inThisFile.clear();
                inThisFile.add(key);
            }
            ByteArrayOutputStream both = new ByteArrayOutputStream();
            both.writeBytes(hs);
            both.writeBytes(record);
            record = both.toByteArray();
        }
        file.append(record, 0, record.length, e.data().length);
    }

    /**
     * SYN, SYN-ACK, ACK ending where the stream's bytes start: {@code clientSeq}/{@code serverSeq}
     * are the first sequence numbers of this file's data in each direction.
     */
    private byte[] handshake(Flow f, long ts, long clientSeq, long serverSeq) {
        String c = "handshake made up by btf-agent for " + f.label;
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        byte[] none = new byte[0];
        b.writeBytes(Pcapng.packet(ts, TcpSegment.build(f.client, f.clientPort, f.server, f.serverPort, clientSeq - 1,
                0, TcpSegment.SYN, none, 0, 0), c));
        b.writeBytes(Pcapng.packet(ts, TcpSegment.build(f.server, f.serverPort, f.client, f.clientPort, serverSeq - 1,
                clientSeq, TcpSegment.SYN | TcpSegment.ACK, none, 0, 0), c));
        b.writeBytes(Pcapng.packet(ts, TcpSegment.build(f.client, f.clientPort, f.server, f.serverPort, clientSeq,
                serverSeq, TcpSegment.ACK, none, 0, 0), c));
        packets.addAndGet(3);
        return b.toByteArray();
    }

    @Override
    public void flush() throws SinkUnavailable {
        try {
            FileSinkSettings.flush(file);
        } finally {
            rotations.set(file.rotations());
            moves.set(file.moves());
            torn.set(file.tornWrites());
        }
    }

    @Override
    public long maxHoldMillis() {
        return holdMs;
    }

    @Override
    public void close() throws IOException {
        file.close();
    }

    @Override
    public Map<String, Long> counters() {
        Map<String, Long> m = new LinkedHashMap<>();
        m.put("damaged blocks", damaged.get());
        m.put("packets", packets.get());
        m.put("rotations", rotations.get());
        if (moves.get() > 0) { // a file another program renamed or deleted
            m.put("moved away", moves.get());
        }
        if (torn.get() > 0) { // a write stopped inside a record (disk full), and was cut back
            m.put("torn writes undone", torn.get());
        }
        return m;
    }

    /** {@code sinks=pcapng}. */
    public static final class Provider implements SinkProvider {
        @Override
        public String name() {
            return "pcapng";
        }

        @Override
        public List<SinkSetting> settings() {
            return FileSinkSettings.declared("btf-agent-events.pcapng", "the pcapng file");
        }

        @Override
        public Sink create(SinkContext context) throws IOException {
            FileSinkSettings f = FileSinkSettings.of(context);
            return new PcapngSink(f.path(), f.maxBytes(), f.keep(), f.holdMs(), context::warn);
        }
    }
}
