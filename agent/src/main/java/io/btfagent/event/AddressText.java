package io.btfagent.event;

import java.net.Inet4Address;
import java.net.Inet6Address;
import java.net.InetSocketAddress;
import java.net.SocketAddress;

/** A socket address as events show it, for addresses learnt in the JVM rather than read from a record. */
public final class AddressText {
    private AddressText() {
    }

    /**
     * {@code 127.0.0.1:8443} or {@code [2001:db8::1]:8443}, as {@link RecordDecoder} writes a
     * record's addresses; null for anything but a resolved TCP/IP address.
     */
    public static String of(SocketAddress a) {
        if (!(a instanceof InetSocketAddress s) || s.getAddress() == null) {
            return null;
        }
        if (s.getAddress() instanceof Inet4Address v4) {
            return v4.getHostAddress() + ":" + s.getPort();
        }
        if (s.getAddress() instanceof Inet6Address v6) {
            byte[] b = v6.getAddress();
            int[] groups = new int[8];
            for (int i = 0; i < 8; i++) {
                groups[i] = ((b[2 * i] & 0xff) << 8) | (b[2 * i + 1] & 0xff);
            }
            return "[" + RecordDecoder.ipv6Text(groups) + "]:" + s.getPort();
        }
        return null;
    }
}
