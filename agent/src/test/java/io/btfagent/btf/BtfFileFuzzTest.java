package io.btfagent.btf;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.btfagent.testing.FuzzBounds;
import java.io.IOException;

/**
 * The BTF parser on what a {@code btf.path} file or a corrupt catalog entry may hold: {@link
 * BtfFile#parse} refuses with a {@link BtfFormatException} or parses; {@link BtfFile#declaredLength}
 * refuses with an {@link IOException} or names a length; {@link BtfSelection#unusable} always
 * answers. Seeds: catalog BTF of OpenSSL 3.0.19 and GnuTLS 3.7.9, the capture object's BTF, a
 * subset of a 6.18 kernel's BTF ({@code BtfFileFuzzTestInputs}).
 */
class BtfFileFuzzTest {
    @FuzzTest(maxDuration = "3m")
    void btfFile(byte[] data) throws Exception {
        // the types' index (a few dozen bytes per 12-byte type) and the names it keeps
        FuzzBounds.within("BtfFile", 32L * data.length + (1 << 20), 5_000, () -> {
            try {
                BtfFile.declaredLength(data);
            } catch (IOException notBtf) {
                // its own refusal
            }
            try {
                BtfFile btf = BtfFile.parse(data);
                btf.struct("ssl_st");
                btf.variableOffset(".rodata", "max_capture");
                btf.typeCount();
            } catch (BtfFormatException refused) {
                // its own refusal
            }
            BtfSelection.unusable("openssl", data);
            BtfSelection.unusable("gnutls", data);
        });
    }
}
