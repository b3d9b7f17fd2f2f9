package io.btfagent.event;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class RecordDecoderTest {
    private static final RecordLayout LAYOUT = RecordLayoutTest.EXPECTED;
    private static final RecordDecoder.Source SOURCE =
            new RecordDecoder.Source("openssl", "3.0.19", "/usr/lib/x86_64-linux-gnu/libssl.so.3");
    private static final long CLOCK_OFFSET = 1_700_000_000_000_000_000L;
    private static final byte[] DATA = "GET / HTTP/1.1\r\nHost: é\u0000".getBytes(StandardCharsets.UTF_8);

    /** A record as the kernel writes it (little-endian struct capture_header, then the bytes). */
    private static final class Record {
        long ts = 123_456_789_012L;
        long ssl = 0x7f3a5c001230L;
        long callLen = 181;
        long offset = 8192;
        int pid = 4242;
        int tid = 4250;
        int fd = 17;
        int cookie = 2;
        int flags = 0;
        String comm = "worker-1";
        byte[] data = DATA;
        Integer capturedOverride;
        int slack;
        int family;
        int lport;
        int rport;
        byte[] laddr = new byte[16];
        byte[] raddr = new byte[16];
        int role;
        long conn = 7;

        ByteBuffer build() {
            ByteBuffer b = ByteBuffer.allocate(128 + data.length + slack).order(ByteOrder.LITTLE_ENDIAN);
            b.putLong(0, ts).putLong(8, ssl).putLong(16, callLen).putLong(24, offset);
            b.putInt(32, pid).putInt(36, tid).putInt(40, fd);
            b.putInt(44, capturedOverride != null ? capturedOverride : data.length);
            b.putInt(48, cookie).putInt(52, flags);
            byte[] c = comm.getBytes(StandardCharsets.UTF_8);
            b.put(56, c, 0, Math.min(16, c.length));
            b.putShort(72, (short) family).putShort(74, (short) lport).putShort(76, (short) rport);
            b.put(80, laddr).put(96, raddr);
            b.putInt(116, role).putLong(120, conn);
            b.put(128, data);
            return b;
        }
    }

    private static CaptureEvent decode(Record r) {
        return new RecordDecoder(LAYOUT, SOURCE, CLOCK_OFFSET).decode(r.build());
    }

    @Test
    void everyFieldIsDecoded() {
        CaptureEvent e = decode(new Record());
        assertEquals(CLOCK_OFFSET + 123_456_789_012L, e.epochNanos());
        assertEquals(4242, e.pid());
        assertEquals(4250, e.tid());
        assertEquals("worker-1", e.thread());
        assertEquals("openssl", e.lib());
        assertEquals("3.0.19", e.libVersion());
        assertEquals("/usr/lib/x86_64-linux-gnu/libssl.so.3", e.libPath());
        assertEquals("SSL_write", e.func());
        assertEquals("egress", e.dir());
        assertTrue(e.egress());
        assertEquals(0x7f3a5c001230L, e.ssl());
        assertEquals(7, e.conn());
        assertNull(e.role());
        assertEquals(Integer.valueOf(17), e.fd());
        assertNull(e.local());
        assertNull(e.remote());
        assertEquals(181, e.len());
        assertEquals(8192, e.offset());
        assertEquals(DATA.length, e.captured());
        assertFalse(e.truncated());
        assertArrayEquals(DATA, e.data());
    }

    @Test
    void cookieLowByteSelectsFunctionAndDirection() {
        String[][] expected = {
            {"SSL_read", "ingress"}, {"SSL_read_ex", "ingress"}, {"SSL_write", "egress"}, {"SSL_write_ex", "egress"}};
        for (int func = 0; func < 4; func++) {
            for (int libraryId : new int[] {0, 1, 0xabcdef}) {
                Record r = new Record();
                r.cookie = libraryId << 8 | func;
                CaptureEvent e = decode(r);
                assertEquals(expected[func][0], e.func(), "cookie 0x" + Integer.toHexString(r.cookie));
                assertEquals(expected[func][1], e.dir(), "cookie 0x" + Integer.toHexString(r.cookie));
            }
        }
    }

    @Test
    void roleIsTheConnRoleEnumAndUnknownValuesAreNull() {
        String[] expected = {null, "client", "server", null, null};
        for (int role = 0; role < expected.length; role++) {
            Record r = new Record();
            r.role = role;
            assertEquals(expected[role], decode(r).role(), "role " + role);
        }
    }

    @Test
    void aJavaThreadNameReplacesTheOsNameWhileTheyAgree() {
        ThreadNames.clear();
        Record r = new Record();
        r.tid = 5150;
        r.comm = "epollEventLoopG";
        assertEquals("epollEventLoopG", decode(r).thread(), "nothing registered yet");
        ThreadNames.register(5150, "epollEventLoopGroup-3-1");
        assertEquals("epollEventLoopGroup-3-1", decode(r).thread());
        r.comm = "other-thread";
        assertEquals("other-thread", decode(r).thread(), "a reused tid whose OS name disagrees keeps its OS name");
        ThreadNames.register(5151, "main");
        r.tid = 5151;
        r.comm = "java";
        assertEquals("main", decode(r).thread(), "the main thread's OS name is the launcher's");
        ThreadNames.clear();
    }

    @Test
    void memoryBioFdIsKeptAndUnknownFdIsNull() {
        Record memoryBio = new Record();
        memoryBio.fd = -1;
        assertEquals(Integer.valueOf(-1), decode(memoryBio).fd());

        Record unknown = new Record();
        unknown.fd = -2;
        assertNull(decode(unknown).fd());

        Record zero = new Record();
        zero.fd = 0;
        assertEquals(Integer.valueOf(0), decode(zero).fd());
    }

    @Test
    void truncatedFlagIsBitZero() {
        Record r = new Record();
        r.flags = RecordLayout.FLAG_TRUNCATED;
        assertTrue(decode(r).truncated());
        r.flags = 0xfffffffe; // every other bit
        assertFalse(decode(r).truncated());
    }

    @Test
    void commStopsAtNulOrSixteenBytes() {
        Record full = new Record();
        full.comm = "0123456789abcdef"; // no terminator: all 16 bytes are the name
        assertEquals("0123456789abcdef", decode(full).thread());

        Record empty = new Record();
        empty.comm = "";
        assertEquals("", decode(empty).thread());
    }

    @Test
    void recordWithoutDataDecodes() {
        Record r = new Record();
        r.data = new byte[0];
        CaptureEvent e = decode(r);
        assertEquals(0, e.captured());
        assertArrayEquals(new byte[0], e.data());
    }

    @Test
    void bytesAfterTheCapturedOnesAreIgnored() {
        Record r = new Record();
        r.slack = 40; // ring records are padded to 8 bytes
        assertArrayEquals(DATA, decode(r).data());
    }

    @Test
    void capturedBeyondTheBufferIsRejected() {
        Record r = new Record();
        r.capturedOverride = DATA.length + 1;
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> decode(r));
        assertEquals("record of " + (128 + DATA.length) + " bytes claims " + (DATA.length + 1) + " data bytes",
                e.getMessage());
    }

    @Test
    void capturedWithTheTopBitSetIsRejected() {
        Record r = new Record();
        r.capturedOverride = 0x80000000; // a u32 beyond 2^31
        assertThrows(IllegalArgumentException.class, () -> decode(r));
    }

    /** headerSize + captured is computed in int: a value near 2^31 wraps negative and passes the check. */
    @Test
    void capturedNearIntMaxIsRejected() {
        Record r = new Record();
        r.capturedOverride = Integer.MAX_VALUE;
        Throwable thrown = null;
        try {
            decode(r);
        } catch (Throwable t) { // OutOfMemoryError included, which assertThrows would rethrow
            thrown = t;
        }
        assertTrue(thrown instanceof IllegalArgumentException, "expected IllegalArgumentException, got " + thrown);
    }

    @Test
    void decodingDoesNotMoveTheBuffer() {
        ByteBuffer b = new Record().build();
        new RecordDecoder(LAYOUT, SOURCE, 0).decode(b);
        assertEquals(0, b.position());
        assertEquals(128 + DATA.length, b.limit());
    }

    @Test
    void dataIsACopy() {
        ByteBuffer b = new Record().build();
        CaptureEvent e = new RecordDecoder(LAYOUT, SOURCE, 0).decode(b);
        b.put(72, (byte) 'X');
        assertEquals('G', e.data()[0]);
    }

    @Test
    void clockOffsetConvertsNanoTimeToNow() {
        long before = System.currentTimeMillis();
        long epochNanos = System.nanoTime() + RecordDecoder.monotonicToEpochOffset();
        long after = System.currentTimeMillis();
        long millis = Math.floorDiv(epochNanos, 1_000_000L);
        assertTrue(millis >= before - 5 && millis <= after + 5, before + " <= " + millis + " <= " + after);
    }

    @Test
    void ipv4SocketAddressesAreFormattedFromTheKernelFields() {
        Record r = new Record();
        r.family = 2;
        r.lport = 50312;
        r.rport = 8443;
        r.laddr = new byte[] {127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
        r.raddr = new byte[] {10, (byte) 200, 0, (byte) 255, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
        CaptureEvent e = decode(r);
        assertEquals("127.0.0.1:50312", e.local());
        assertEquals("10.200.0.255:8443", e.remote());
    }

    @Test
    void ipv6AddressesUseTheShortFormAndMappedIpv4IsShownAsIpv4() {
        Record r = new Record();
        r.family = 10;
        r.lport = 65535;
        r.rport = 443;
        r.laddr = new byte[] {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
        r.raddr = new byte[] {0x20, 0x01, 0x0d, (byte) 0xb8, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0x0a};
        CaptureEvent e = decode(r);
        assertEquals("[::1]:65535", e.local());
        assertEquals("[2001:db8::1:0:0:a]:443", e.remote());
        r.raddr = new byte[] {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, (byte) 0xff, (byte) 0xff, (byte) 192, (byte) 168, 1, 2};
        assertEquals("192.168.1.2:443", decode(r).remote());
    }

    @Test
    void noSocketMeansNoAddresses() {
        Record r = new Record();
        r.family = 0;
        r.lport = 1;
        CaptureEvent e = decode(r);
        assertEquals(null, e.local());
        assertEquals(null, e.remote());
        r.family = 1; // AF_UNIX
        assertEquals(null, decode(r).local());
    }

    @Test
    void ipv6TextFollowsRfc5952() {
        assertEquals("::", RecordDecoder.ipv6Text(new int[8]));
        assertEquals("1::", RecordDecoder.ipv6Text(new int[] {1, 0, 0, 0, 0, 0, 0, 0}));
        assertEquals("2001:db8:0:1:1:1:1:1", RecordDecoder.ipv6Text(new int[] {0x2001, 0xdb8, 0, 1, 1, 1, 1, 1}));
        assertEquals("2001:0:0:1::1", RecordDecoder.ipv6Text(new int[] {0x2001, 0, 0, 1, 0, 0, 0, 1}));
    }

    /** The same facts, compared through their JSON (a CaptureEvent's data array compares by identity). */
    private static String facts(CaptureEvent e) {
        return io.btfagent.sink.EventText.json(e);
    }

    @Test
    void oneReusedViewHoldsWhatDecodeGivesRecordAfterRecord() {
        ThreadNames.clear();
        RecordDecoder d = new RecordDecoder(LAYOUT, SOURCE, CLOCK_OFFSET);
        EventView view = new EventView();
        java.util.List<Record> records = new java.util.ArrayList<>();
        Record v4 = new Record();
        v4.family = 2;
        v4.lport = 50312;
        v4.rport = 8443;
        v4.laddr = new byte[] {127, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
        v4.raddr = new byte[] {10, 1, 2, 3, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
        records.add(v4);
        Record v6 = new Record();
        v6.family = 10;
        v6.lport = 1;
        v6.rport = 65535;
        v6.laddr = new byte[] {0x20, 0x01, 0x0d, (byte) 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
        v6.raddr = new byte[] {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, (byte) 0xff, (byte) 0xff, (byte) 192, (byte) 168, 0, 9};
        v6.tid = 77;
        v6.comm = "élan-vital-thrd";
        v6.role = 2;
        records.add(v6);
        Record noFd = new Record();
        noFd.fd = -2;
        noFd.flags = 1;
        noFd.cookie = 0;
        noFd.data = new byte[0];
        records.add(noFd);
        Record big = new Record();
        big.data = new byte[8192];
        for (int i = 0; i < big.data.length; i++) {
            big.data[i] = (byte) (i * 31);
        }
        records.add(big);
        // the same port on another address, the same address on another port: not the cached text
        Record v4b = new Record();
        v4b.family = 2;
        v4b.lport = 50312;
        v4b.rport = 8444;
        v4b.laddr = new byte[] {127, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
        v4b.raddr = v4.raddr;
        records.add(v4b);
        for (int round = 0; round < 3; round++) {
            for (Record r : records) {
                d.decodeInto(r.build(), view);
                assertEquals(facts(decode(r)), facts(view.toEvent()));
            }
        }
        // a Java name registered for a thread replaces its OS name from the next record on
        Record worker = new Record();
        worker.tid = 5150;
        worker.comm = "epollEventLoopG";
        d.decodeInto(worker.build(), view);
        assertEquals("epollEventLoopG", view.thread());
        ThreadNames.register(5150, "epollEventLoopGroup-3-1");
        d.decodeInto(worker.build(), view);
        assertEquals("epollEventLoopGroup-3-1", view.thread());
        assertEquals(facts(decode(worker)), facts(view.toEvent()));
        // the same tid with another OS name (a new thread on a reused id) is not the cached name
        worker.comm = "other";
        d.decodeInto(worker.build(), view);
        assertEquals("other", view.thread());
        ThreadNames.clear();
    }

    @Test
    void theViewsDataArrayIsReusedWhileLargeEnough() {
        RecordDecoder d = new RecordDecoder(LAYOUT, SOURCE, CLOCK_OFFSET);
        EventView view = new EventView();
        d.decodeInto(new Record().build(), view);
        byte[] first = view.array();
        assertEquals(8192, first.length, "one array the size of the largest record");
        Record other = new Record();
        other.data = "HTTP/1.1 200 OK\r\n".getBytes(StandardCharsets.US_ASCII);
        d.decodeInto(other.build(), view);
        assertTrue(first == view.array());
        assertEquals("HTTP/1.1 200 OK\r\n",
                new String(view.array(), view.dataOffset(), view.dataLength(), StandardCharsets.US_ASCII));
    }
}
