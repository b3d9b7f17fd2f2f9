package io.btfagent.elf;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.io.InputStream;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/** The .rodata settings of the BPF object are found where readelf -s puts them. */
class BpfObjectSymbolsTest {
    @Test
    void rodataSettingsAreAtTheirSymbolOffsets() throws IOException {
        byte[] elf;
        try (InputStream in = getClass().getClassLoader().getResourceAsStream("io/btfagent/bpf/ssl_capture.bpf.o")) {
            elf = in.readAllBytes();
        }
        ElfFile obj = ElfFile.of(elf, "ssl_capture.bpf.o");
        // readelf -s: max_capture value 0, target_tgid value 4, both in .rodata
        assertEquals(Optional.of(0L), obj.symbolValue("max_capture"));
        assertEquals(Optional.of(4L), obj.symbolValue("target_tgid"));
        assertEquals(Optional.empty(), obj.symbolValue("no_such_symbol"));
    }
}
