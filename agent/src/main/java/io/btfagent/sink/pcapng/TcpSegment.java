package io.btfagent.sink.pcapng;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.nio.ByteBuffer;

/** Builds one IPv4 or IPv6 packet carrying a TCP segment, checksums included. */
final class TcpSegment {
    static final int FIN = 0x01;
    static final int SYN = 0x02;
    static final int PSH = 0x08;
    static final int ACK = 0x10;
    /** Most payload per segment: an IPv4 packet is at most 65535 bytes. */
    static final int MAX_PAYLOAD = 65535 - 20 - 20;

    private TcpSegment() {
    }

    static byte[] build(InetAddress src, int srcPort, InetAddress dst, int dstPort, long seq, long ack, int flags,
            byte[] data, int off, int len) {
        ByteBuffer tcp = ByteBuffer.allocate(20 + len);
        tcp.putShort((short) srcPort).putShort((short) dstPort).putInt((int) seq).putInt((int) ack)
                .put((byte) (5 << 4)).put((byte) flags).putShort((short) 65535).putShort((short) 0)
                .putShort((short) 0).put(data, off, len);
        byte[] seg = tcp.array();
        byte[] s = src.getAddress();
        byte[] d = dst.getAddress();
        long sum = sum(s) + sum(d) + 6 + seg.length + sum(seg);
        int check = fold(sum);
        seg[16] = (byte) (check >> 8);
        seg[17] = (byte) check;
        if (src instanceof Inet4Address) {
            ByteBuffer ip = ByteBuffer.allocate(20 + seg.length);
            ip.put((byte) 0x45).put((byte) 0).putShort((short) (20 + seg.length)).putShort((short) 0)
                    .putShort((short) 0x4000).put((byte) 64).put((byte) 6).putShort((short) 0).put(s).put(d);
            byte[] p = ip.array();
            int hc = fold(sum(java.util.Arrays.copyOf(p, 20)));
            p[10] = (byte) (hc >> 8);
            p[11] = (byte) hc;
            System.arraycopy(seg, 0, p, 20, seg.length);
            return p;
        }
        if (!(src instanceof Inet6Address)) {
            throw new IllegalArgumentException("not an IP address: " + src);
        }
        ByteBuffer ip = ByteBuffer.allocate(40 + seg.length);
        ip.putInt(0x60000000).putShort((short) seg.length).put((byte) 6).put((byte) 64).put(s).put(d).put(seg);
        return ip.array();
    }

    /** One's-complement sum of 16-bit big-endian words (odd length padded with zero). */
    private static long sum(byte[] b) {
        long s = 0;
        for (int i = 0; i < b.length; i += 2) {
            int hi = b[i] & 0xff;
            int lo = i + 1 < b.length ? b[i + 1] & 0xff : 0;
            s += (hi << 8) | lo;
        }
        return s;
    }

    private static int fold(long sum) {
        while ((sum >> 16) != 0) {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        return (int) (~sum & 0xffff);
    }
}
