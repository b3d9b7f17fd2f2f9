package io.btfagent.event;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.btfagent.testing.FuzzBounds;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;

/**
 * The record decoder on any bytes a ring record could hold: it decodes them or refuses with
 * an {@link IllegalArgumentException} (the router counts it as undecodable), both through the
 * reusable view and as an event. Seeds: records of the shapes {@code RecordDecoderTest} builds
 * ({@code RecordDecoderFuzzTestInputs}).
 */
class RecordDecoderFuzzTest {
    private static final RecordDecoder DECODER = new RecordDecoder(RecordLayoutTest.EXPECTED,
            new RecordDecoder.Source("openssl", "3.0.19", "/usr/lib/x86_64-linux-gnu/libssl.so.3"), 0);
    private static final EventView VIEW = new EventView();

    @FuzzTest(maxDuration = "3m")
    void record(byte[] data) throws Exception {
        // the view's data array (8 KiB at least), the strings of one event
        FuzzBounds.within("RecordDecoder", 4L * data.length + (64 << 10), 2_000, () -> {
            ByteBuffer b = ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN);
            try {
                DECODER.decodeInto(b, 0, data.length, VIEW);
            } catch (IllegalArgumentException refused) {
                // its own refusal
            }
            try {
                DECODER.decode(b);
            } catch (IllegalArgumentException refused) {
                // its own refusal
            }
        });
    }
}
