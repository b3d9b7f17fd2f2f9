package io.btfagent.identity;

import io.btfagent.bpf.BpfException;
import io.btfagent.bpf.BpfMap;
import io.btfagent.event.ConnRole;
import io.btfagent.event.PeerLayout;
import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * Writes what the JVM knows of a TLS object (its role and its channel's addresses) into the
 * kernel's peers map, keyed by the object's pointer. The probes read it at every call, so the
 * join is made in the kernel at the call: exact under any concurrency, and a pointer freed and
 * reused is forgotten by the probe on the free before the new object exists.
 */
public final class PeerMap {
    private static final int AF_INET = 2;
    private static final int AF_INET6 = 10;

    private final BpfMap map;
    private final PeerLayout layout;

    public PeerMap(BpfMap map, PeerLayout layout) {
        this.map = map;
        this.layout = layout;
    }

    /** Records {@code ssl}'s role and, when both are TCP/IP addresses, its channel's addresses. */
    public void put(long ssl, boolean client, SocketAddress local, SocketAddress remote) throws BpfException {
        map.put(ssl, value(layout, client, local, remote));
    }

    /** The map's value for {@code ssl}, or null (tests). */
    public byte[] get(long ssl) {
        return map.get(ssl);
    }

    static byte[] value(PeerLayout l, boolean client, SocketAddress local, SocketAddress remote) {
        ByteBuffer b = ByteBuffer.allocate(l.size()).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(l.role(), (client ? ConnRole.CLIENT : ConnRole.SERVER).value());
        if (local instanceof InetSocketAddress lo && remote instanceof InetSocketAddress re
                && lo.getAddress() != null && re.getAddress() != null) {
            InetAddress la = lo.getAddress();
            InetAddress ra = re.getAddress();
            boolean v4 = la instanceof Inet4Address && ra instanceof Inet4Address;
            b.putShort(l.family(), (short) (v4 ? AF_INET : AF_INET6));
            b.putShort(l.lport(), (short) lo.getPort());
            b.putShort(l.rport(), (short) re.getPort());
            b.put(l.laddr(), v4 ? la.getAddress() : v6(la));
            b.put(l.raddr(), v4 ? ra.getAddress() : v6(ra));
        }
        return b.array();
    }

    /** An IPv6 address, or an IPv4 one as IPv4-mapped IPv6. */
    private static byte[] v6(InetAddress a) {
        if (a instanceof Inet6Address) {
            return a.getAddress();
        }
        byte[] out = new byte[16];
        out[10] = (byte) 0xff;
        out[11] = (byte) 0xff;
        System.arraycopy(a.getAddress(), 0, out, 12, 4);
        return out;
    }
}
