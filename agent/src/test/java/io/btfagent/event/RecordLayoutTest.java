package io.btfagent.event;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.btfagent.btf.BtfFile;
import io.btfagent.btf.BtfFormatException;
import io.btfagent.elf.ElfFile;
import io.btfagent.testing.Fixtures;
import java.io.IOException;
import org.junit.jupiter.api.Test;

class RecordLayoutTest {
    /** struct capture_header as bpftool dumps it from the object's BTF (bits_offset / 8). */
    static final RecordLayout EXPECTED = new RecordLayout(128, 0, 8, 16, 24, 32, 36, 40, 44, 48, 52, 56, 72, 74, 76, 80, 96, 112, 116,
            120);

    @Test
    void layoutComesFromTheObjectsOwnBtf() throws IOException, BtfFormatException {
        byte[] object = Fixtures.bytes(Fixtures.BPF_OBJECT_RESOURCE);
        BtfFile btf = BtfFile.parse(ElfFile.of(object, Fixtures.BPF_OBJECT_RESOURCE).section(".BTF").orElseThrow());
        RecordLayout l = RecordLayout.from(btf);

        assertEquals(128, l.headerSize());
        assertEquals(0, l.tsNs());
        assertEquals(8, l.ssl());
        assertEquals(16, l.callLen());
        assertEquals(24, l.offset());
        assertEquals(32, l.pid());
        assertEquals(36, l.tid());
        assertEquals(40, l.fd());
        assertEquals(44, l.captured());
        assertEquals(48, l.cookie());
        assertEquals(52, l.flags());
        assertEquals(56, l.comm());
        assertEquals(EXPECTED, l);
    }

    @Test
    void peerLayoutComesFromTheObjectsOwnBtf() throws IOException, BtfFormatException {
        byte[] object = Fixtures.bytes(Fixtures.BPF_OBJECT_RESOURCE);
        BtfFile btf = BtfFile.parse(ElfFile.of(object, Fixtures.BPF_OBJECT_RESOURCE).section(".BTF").orElseThrow());
        // struct conn_peer: u32 role, u16 family, lport, rport, pad, u8 laddr[16], raddr[16]
        assertEquals(new PeerLayout(44, 0, 4, 6, 8, 12, 28), PeerLayout.from(btf));
    }

    @Test
    void btfWithoutTheStructIsRejected() throws BtfFormatException {
        BtfFile catalog = BtfFile.parse(Fixtures.bytes(Fixtures.CATALOG_BTF_RESOURCE));
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> RecordLayout.from(catalog));
        assertEquals("BPF object BTF lacks struct capture_header", e.getMessage());
    }
}
