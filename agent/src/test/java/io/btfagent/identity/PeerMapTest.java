package io.btfagent.identity;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.btfagent.event.PeerLayout;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import org.junit.jupiter.api.Test;

class PeerMapTest {
    private static final PeerLayout LAYOUT = new PeerLayout(44, 0, 4, 6, 8, 12, 28);

    private static ByteBuffer value(boolean client, InetSocketAddress local, InetSocketAddress remote) {
        return ByteBuffer.wrap(PeerMap.value(LAYOUT, client, local, remote)).order(ByteOrder.LITTLE_ENDIAN);
    }

    @Test
    void ipv4AddressesAreWrittenInTheRecordsForm() throws Exception {
        ByteBuffer v = value(false, new InetSocketAddress(InetAddress.getByName("127.0.0.1"), 8443),
                new InetSocketAddress(InetAddress.getByName("10.1.2.3"), 50312));
        assertEquals(44, v.capacity());
        assertEquals(2, v.getInt(0), "ROLE_SERVER");
        assertEquals(2, v.getShort(4), "AF_INET");
        assertEquals(8443, Short.toUnsignedInt(v.getShort(6)));
        assertEquals(50312, Short.toUnsignedInt(v.getShort(8)));
        byte[] l = new byte[4];
        v.get(12, l);
        assertArrayEquals(new byte[] {127, 0, 0, 1}, l);
        byte[] r = new byte[4];
        v.get(28, r);
        assertArrayEquals(new byte[] {10, 1, 2, 3}, r);
    }

    @Test
    void ipv6AndMixedAddressesAreIpv6() throws Exception {
        ByteBuffer v = value(true, new InetSocketAddress(InetAddress.getByName("::1"), 1),
                new InetSocketAddress(InetAddress.getByName("192.0.2.7"), 2));
        assertEquals(1, v.getInt(0), "ROLE_CLIENT");
        assertEquals(10, v.getShort(4), "AF_INET6");
        byte[] r = new byte[16];
        v.get(28, r);
        assertArrayEquals(new byte[] {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, (byte) 0xff, (byte) 0xff, (byte) 192, 0, 2, 7}, r);
        assertEquals(1, v.get(12 + 15), "::1");
    }

    @Test
    void withoutAddressesOnlyTheRoleIsWritten() {
        ByteBuffer v = value(true, null, null);
        assertEquals(1, v.getInt(0));
        for (int i = 4; i < 44; i++) {
            assertEquals(0, v.get(i), "byte " + i);
        }
    }
}
