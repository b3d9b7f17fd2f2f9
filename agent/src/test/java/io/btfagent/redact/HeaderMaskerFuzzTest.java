package io.btfagent.redact;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.btfagent.testing.FuzzBounds;
import java.util.Arrays;
import java.util.Set;

/**
 * The HTTP/1 masker on any stream, cut anywhere: it throws nothing, changes bytes only into
 * {@code '*'}, never a line end, and masks the same bytes however the stream is cut into pieces
 * (the first byte of an input chooses the cuts; the rest is the stream). Seeds: requests and
 * responses with credentials, folded and split headers ({@code HeaderMaskerFuzzTestInputs}).
 */
class HeaderMaskerFuzzTest {
    private static final Set<String> NAMES = Set.of("authorization", "cookie", "set-cookie", "x-api-key");

    @FuzzTest(maxDuration = "3m")
    void headerMasker(byte[] input) throws Exception {
        if (input.length == 0) {
            return;
        }
        int cut = (input[0] & 0xff) % 23 + 1;
        byte[] stream = Arrays.copyOfRange(input, 1, input.length);
        FuzzBounds.within("HeaderMasker", 4L * stream.length + (64 << 10), 2_000, () -> {
            byte[] whole = stream.clone();
            int masked = new HeaderMasker(NAMES).mask(whole, 0, whole.length);

            byte[] pieces = stream.clone();
            HeaderMasker m = new HeaderMasker(NAMES);
            int maskedInPieces = 0;
            for (int at = 0; at < pieces.length; at += cut) {
                maskedInPieces += m.mask(pieces, at, Math.min(cut, pieces.length - at));
            }
            assertArrayEquals(whole, pieces, "the same bytes are masked whatever the pieces");
            assertEquals(masked, maskedInPieces);
            int changed = 0;
            for (int i = 0; i < stream.length; i++) {
                if (whole[i] != stream[i]) {
                    changed++;
                    assertEquals('*', whole[i], "a byte is only ever masked");
                    assertTrue(stream[i] != '\r' && stream[i] != '\n', "a line end is never masked");
                }
            }
            assertTrue(changed <= masked && masked <= stream.length, changed + " changed, " + masked + " counted");
        });
    }
}
