package io.btfagent.sink.pcapng;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;

/**
 * The pcapng blocks the sink writes (draft-ietf-opsawg-pcapng): a Section Header Block, one
 * Interface Description Block of link type RAW (IPv4/IPv6 packets, no link header) with
 * nanosecond timestamps, and Enhanced Packet Blocks with a comment option. Little-endian.
 */
final class Pcapng {
    static final int SHB = 0x0A0D0D0A;
    static final int IDB = 0x00000001;
    static final int EPB = 0x00000006;
    static final int BYTE_ORDER_MAGIC = 0x1A2B3C4D;
    static final int LINKTYPE_RAW = 101;
    private static final int OPT_COMMENT = 1;
    private static final int SHB_USERAPPL = 4;
    private static final int IF_NAME = 2;
    private static final int IF_TSRESOL = 9;

    private Pcapng() {
    }

    /** A Section Header Block and the one interface every packet is on. */
    static byte[] header() {
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        ByteBuffer shbBody = le(16);
        shbBody.putInt(BYTE_ORDER_MAGIC).putShort((short) 1).putShort((short) 0).putLong(-1L);
        b.writeBytes(block(SHB, shbBody.array(), option(SHB_USERAPPL, utf8("btf-agent"))));
        ByteBuffer idbBody = le(8);
        idbBody.putShort((short) LINKTYPE_RAW).putShort((short) 0).putInt(0);
        byte[] opts = concat(option(IF_NAME, utf8("btf-agent: TLS plaintext")), option(IF_TSRESOL, new byte[] {9}));
        b.writeBytes(block(IDB, idbBody.array(), opts));
        return b.toByteArray();
    }

    /** An Enhanced Packet Block on interface 0 at {@code epochNanos}, with a comment. */
    static byte[] packet(long epochNanos, byte[] packet, String comment) {
        int padded = (packet.length + 3) & ~3;
        ByteBuffer body = le(20 + padded);
        body.putInt(0).putInt((int) (epochNanos >>> 32)).putInt((int) epochNanos)
                .putInt(packet.length).putInt(packet.length).put(packet);
        return block(EPB, body.array(), comment == null ? new byte[0] : option(OPT_COMMENT, utf8(comment)));
    }

    private static byte[] block(int type, byte[] body, byte[] options) {
        byte[] opts = options.length == 0 ? options : concat(options, new byte[4]); // opt_endofopt
        int total = 12 + body.length + opts.length;
        ByteBuffer b = le(total);
        b.putInt(type).putInt(total).put(body).put(opts).putInt(total);
        return b.array();
    }

    private static byte[] option(int code, byte[] value) {
        int padded = (value.length + 3) & ~3;
        ByteBuffer b = le(4 + padded);
        b.putShort((short) code).putShort((short) value.length).put(value);
        return b.array();
    }

    /**
     * Where the whole blocks of a pcapng file written by this sink end: the walk stops at the
     * first block whose length is impossible or which the file does not hold entirely.
     */
    static long wholeBlocks(Path file, long size) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS)) {
            ByteBuffer head = le(8);
            ByteBuffer tail = le(4);
            long at = 0;
            while (at + 12 <= size) {
                head.clear();
                ch.read(head, at);
                int len = head.getInt(4);
                if (len < 12 || (len & 3) != 0 || at + len > size) {
                    break;
                }
                tail.clear();
                ch.read(tail, at + len - 4);
                if (tail.getInt(0) != len) {
                    break;
                }
                at += len;
            }
            return at;
        }
    }

    private static ByteBuffer le(int n) {
        return ByteBuffer.allocate(n).order(ByteOrder.LITTLE_ENDIAN);
    }

    private static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] out = new byte[a.length + b.length];
        System.arraycopy(a, 0, out, 0, a.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }
}
