package io.btfagent.event;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class BuildCheckTest {
    private static final RecordLayout LAYOUT = RecordLayoutTest.EXPECTED;
    private final BuildCheck check = new BuildCheck(LAYOUT);

    private static ByteBuffer record(int bioType, int fd, int family) {
        ByteBuffer b = ByteBuffer.allocate(LAYOUT.headerSize()).order(ByteOrder.LITTLE_ENDIAN);
        b.putInt(LAYOUT.bioType(), bioType).putInt(LAYOUT.fd(), fd).putShort(LAYOUT.family(), (short) family);
        return b;
    }

    @Test
    void realBioTypesPass() {
        assertEquals(Optional.empty(), check.problem(record(0x0505, 17, 2)), "socket BIO on a TCP socket");
        assertEquals(Optional.empty(), check.problem(record(0x0505, 9, 1)), "socket BIO on a Unix socket");
        assertEquals(Optional.empty(), check.problem(record(0x0401, -1, 0)), "memory BIO");
        assertEquals(Optional.empty(), check.problem(record(0x0413, -1, 0)), "BIO pair (wildfly, Tomcat)");
        assertEquals(Optional.empty(), check.problem(record(0x0504, 3, 0)), "fd BIO on a pipe");
        assertEquals(Optional.empty(), check.problem(record(0x0209, -1, 0)), "buffer filter");
        assertEquals(Optional.empty(), check.problem(record(0x0481, -1, 0)), "BIO_get_new_index() type");
    }

    @Test
    void garbageBioTypesFail() {
        assertEquals(Optional.of("it reads an impossible BIO type 0x3a7f2105"), check.problem(record(0x3a7f2105, 17, 2)));
        assertEquals(Optional.of("it reads an impossible BIO type 0x100"), check.problem(record(0x0100, 17, 2)),
                "descriptor flag alone");
        assertEquals(Optional.of("it reads an impossible BIO type 0x400"), check.problem(record(0x0400, -1, 0)),
                "no index");
        assertEquals(Optional.of("it reads an impossible BIO type 0x305"), check.problem(record(0x0305, 5, 2)),
                "descriptor on a filter");
        assertEquals(Optional.of("it reads an impossible BIO type 0xffffffff"), check.problem(record(-1, -1, 0)));
    }

    @Test
    void aSocketBioWhoseFdIsNoSocketFails() {
        assertEquals(Optional.of("it reads fd 1 for a socket BIO, and fd 1 is not a socket"),
                check.problem(record(0x0505, 1, 0)));
    }

    @Test
    void anUnreadableBioFails() {
        assertEquals(Optional.of("the BIO of a TLS call could not be read"), check.problem(record(0, -2, 0)));
        assertEquals(Optional.of("the BIO of a TLS call could not be read"), check.problem(record(0x0505, -2, 0)));
    }
}
