package io.btfagent.sink.pcapng;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.btfagent.event.CaptureEvent;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The pcapng sink's files read back by Debian's tshark. */
class PcapngSinkTest {
    private static final long TS = 1_795_578_011_123_456_789L;

    @TempDir
    Path dir;

    private final List<String> notices = new ArrayList<>();

    @BeforeEach
    void needsTshark() {
        assumeTrue(Files.isExecutable(Tshark.BINARY), "tshark is missing: run native-targets/bin/setup-host.sh");
    }

    private static CaptureEvent ev(long ssl, String dir, long len, long offset, String data, String local,
            String remote, int n) {
        byte[] b = data.getBytes(StandardCharsets.ISO_8859_1);
        return new CaptureEvent(TS + n * 1000L, 4242, 4250 + (int) ssl, "worker-" + ssl, "openssl", "3.0.19",
                "/usr/lib/x86_64-linux-gnu/libssl.so.3", dir.equals("egress") ? "SSL_write" : "SSL_read", dir, ssl,
                -1, local, remote, len, offset, b.length, false, b);
    }

    private static final String REQ1 = "GET /one HTTP/1.1\r\nHost: a.example\r\nUser-Agent: t\r\n\r\n";
    private static final String REQ2 = "POST /two HTTP/1.1\r\nHost: b.example\r\nContent-Length: 5\r\n\r\nhello";
    private static final String RESP1 = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\none";
    private static final String RESP2 = "HTTP/1.1 201 Created\r\nContent-Length: 3\r\n\r\ntwo";

    @Test
    void twoConcurrentConnectionsFollowBackToTheExactBytesOfEachDirection() throws Exception {
        Path file = dir.resolve("capture.pcapng");
        PcapngSink sink = new PcapngSink(file, 0, 0, notices::add);
        int cut = 20;
        // interleaved as on two threads; REQ1 is one call split into two records
        sink.accept(ev(0x1, "egress", REQ1.length(), 0, REQ1.substring(0, cut), null, null, 1));
        sink.accept(ev(0x2, "egress", REQ2.length(), 0, REQ2, null, null, 2));
        sink.accept(ev(0x1, "egress", REQ1.length(), cut, REQ1.substring(cut), null, null, 3));
        sink.accept(ev(0x2, "ingress", RESP2.length(), 0, RESP2, null, null, 4));
        sink.accept(ev(0x1, "ingress", RESP1.length(), 0, RESP1, null, null, 5));
        sink.flush();
        sink.close();

        Tshark.Follow s0 = Tshark.follow(file, 0);
        assertEquals("10.1.0.1:5266", s0.node0());
        assertEquals("10.2.0.1:443", s0.node1());
        assertArrayEquals(REQ1.getBytes(StandardCharsets.US_ASCII), s0.fromNode0());
        assertArrayEquals(RESP1.getBytes(StandardCharsets.US_ASCII), s0.fromNode1());
        Tshark.Follow s1 = Tshark.follow(file, 1);
        assertEquals("10.1.0.2:5266", s1.node0());
        assertEquals("10.2.0.1:443", s1.node1());
        assertArrayEquals(REQ2.getBytes(StandardCharsets.US_ASCII), s1.fromNode0());
        assertArrayEquals(RESP2.getBytes(StandardCharsets.US_ASCII), s1.fromNode1());

        // the GET is complete (reassembled) only with its second record, after the POST
        assertEquals("1\tPOST\t/two\tb.example\n0\tGET\t/one\ta.example\n", Tshark.run("-r", file.toString(),
                "-Y", "http.request", "-T", "fields", "-e", "tcp.stream", "-e", "http.request.method",
                "-e", "http.request.uri", "-e", "http.host"));
        assertEquals("1\t201\n0\t200\n", Tshark.run("-r", file.toString(), "-Y", "http.response", "-T", "fields",
                "-e", "tcp.stream", "-e", "http.response.code"));
        // no analysis complaints: no lost segments, retransmissions or bad checksums
        assertEquals("", Tshark.run("-r", file.toString(), "-o", "tcp.check_checksum:TRUE",
                "-o", "ip.check_checksum:TRUE", "-Y", "tcp.analysis.flags || _ws.expert.severity >= warning"
                        + " && !http", "-T", "fields", "-e", "frame.number"));
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(file,
                LinkOption.NOFOLLOW_LINKS)));
        assertEquals(Map.of("damaged blocks", 0L, "packets", 11L, "rotations", 0L), sink.counters(), "2 handshakes of 3, 5 data");
        assertEquals(List.of(), notices);
    }

    @Test
    void eachPacketCommentNamesPidThreadLibraryAndFunction() throws Exception {
        Path file = dir.resolve("c.pcapng");
        PcapngSink sink = new PcapngSink(file, 0, 0, notices::add);
        sink.accept(ev(0x7f3a, "egress", REQ1.length(), 0, REQ1, null, null, 1));
        sink.close();
        assertEquals("handshake made up by btf-agent for ssl=0x7f3a\n".repeat(3)
                + "pid=4242 tid=36820 thread=worker-32570 lib=openssl 3.0.19 /usr/lib/x86_64-linux-gnu/libssl.so.3"
                + " func=SSL_write ssl=0x7f3a len=" + REQ1.length() + " offset=0\n",
                Tshark.run("-r", file.toString(), "-T", "fields", "-e", "frame.comment"));
        assertEquals("1795578011.123457789\n".repeat(4), Tshark.run("-r", file.toString(), "-T", "fields",
                "-e", "frame.time_epoch"));
    }

    @Test
    void realAddressesAreUsedWhenKnownAndEgressGoesFromOurSide() throws Exception {
        Path file = dir.resolve("a.pcapng");
        PcapngSink sink = new PcapngSink(file, 0, 0, notices::add);
        sink.accept(ev(0x5, "egress", REQ1.length(), 0, REQ1, "127.0.0.1:50312", "127.0.0.1:8443", 1));
        sink.accept(ev(0x5, "ingress", RESP1.length(), 0, RESP1, "127.0.0.1:50312", "127.0.0.1:8443", 2));
        sink.accept(ev(0x6, "egress", REQ2.length(), 0, REQ2, "[::1]:40000", "[::1]:443", 3));
        sink.close();
        Tshark.Follow v4 = Tshark.follow(file, 0);
        assertEquals("127.0.0.1:50312", v4.node0());
        assertEquals("127.0.0.1:8443", v4.node1());
        assertArrayEquals(REQ1.getBytes(StandardCharsets.US_ASCII), v4.fromNode0());
        assertArrayEquals(RESP1.getBytes(StandardCharsets.US_ASCII), v4.fromNode1());
        Tshark.Follow v6 = Tshark.follow(file, 1);
        assertEquals("[::1]:40000", v6.node0());
        assertEquals("[::1]:443", v6.node1());
        assertArrayEquals(REQ2.getBytes(StandardCharsets.US_ASCII), v6.fromNode0());
    }

    @Test
    void rotatedFilesEachStartWithHeaderAndHandshakeAndFollowOnTheirOwn() throws Exception {
        Path file = dir.resolve("r.pcapng");
        PcapngSink sink = new PcapngSink(file, 600, 1, notices::add);
        sink.accept(ev(0x1, "egress", REQ1.length(), 0, REQ1, null, null, 1));
        sink.flush();
        sink.accept(ev(0x1, "ingress", RESP1.length(), 0, RESP1, null, null, 2));
        sink.flush();
        sink.close();
        assertEquals(Map.of("damaged blocks", 0L, "packets", 8L, "rotations", 1L), sink.counters(), "a handshake in each file");
        Tshark.Follow older = Tshark.follow(dir.resolve("r.pcapng.1"), 0);
        assertArrayEquals(REQ1.getBytes(StandardCharsets.US_ASCII), older.fromNode0());
        assertArrayEquals(new byte[0], older.fromNode1());
        Tshark.Follow newer = Tshark.follow(file, 0);
        assertEquals("10.1.0.1:5266", newer.node0());
        assertArrayEquals(new byte[0], newer.fromNode0());
        assertArrayEquals(RESP1.getBytes(StandardCharsets.US_ASCII), newer.fromNode1());
        for (Path p : new Path[] {file, dir.resolve("r.pcapng.1")}) {
            assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(p)));
        }
    }

    @Test
    void aBlockCutShortByACrashIsCutOffAndTheFileReadsWholeAfterTheNextRun() throws Exception {
        Path file = dir.resolve("t.pcapng");
        PcapngSink first = new PcapngSink(file, 0, 0, notices::add);
        first.accept(ev(0x1, "egress", REQ1.length(), 0, REQ1, null, null, 1));
        first.close();
        long whole = Files.size(file);
        // the JVM killed in the middle of the next block: 30 bytes of a 100-byte block
        byte[] torn = new byte[30];
        java.nio.ByteBuffer.wrap(torn).order(java.nio.ByteOrder.LITTLE_ENDIAN).putInt(6).putInt(100);
        Files.write(file, torn, java.nio.file.StandardOpenOption.APPEND);

        PcapngSink second = new PcapngSink(file, 0, 0, notices::add);
        CaptureEvent next = ev(0x2, "egress", REQ2.length(), 0, REQ2, null, null, 2);
        second.accept(new CaptureEvent(next.epochNanos(), 4243, next.tid(), next.thread(), next.lib(),
                next.libVersion(), next.libPath(), next.func(), next.dir(), next.ssl(), next.fd(), null, null,
                next.len(), 0, next.captured(), false, next.data())); // the next run is another process
        second.close();
        assertEquals(List.of(file + " ended in a partial block (a run stopped while writing it); the last 30 bytes"
                + " were cut off so that readers see every whole block (damaged blocks: 1)"), notices);
        assertEquals(1L, second.counters().get("damaged blocks"));
        assertEquals(whole, Pcapng.wholeBlocks(file, whole), "the first run's blocks are intact");
        assertEquals(Files.size(file), Pcapng.wholeBlocks(file, Files.size(file)), "no torn block remains");
        // both runs' sections read back
        assertArrayEquals(REQ1.getBytes(StandardCharsets.US_ASCII), Tshark.follow(file, 0).fromNode0());
        assertArrayEquals(REQ2.getBytes(StandardCharsets.US_ASCII), Tshark.follow(file, 1).fromNode0());
    }
}
