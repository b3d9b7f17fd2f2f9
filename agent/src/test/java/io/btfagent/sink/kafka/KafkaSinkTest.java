package io.btfagent.sink.kafka;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.btfagent.event.CaptureEvent;
import io.btfagent.sink.PartialFailure;
import io.btfagent.sink.Sink;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** The sink with a real producer and nothing listening at its bootstrap address. */
@Timeout(60)
class KafkaSinkTest {
    private static CaptureEvent event(int n, int size) {
        return new CaptureEvent(1_795_578_011_123_456_789L + n, 1, 1, "t", "openssl", "3", "/l", "SSL_read",
                "ingress", 0x10 + n, n, null, null, null, null, size, 0, size, false,
                "x".repeat(size).getBytes(StandardCharsets.US_ASCII));
    }

    @Test
    void withoutABrokerTheFirstSendOfABatchWaitsMaxBlockAndTheRestFailAtOnceAllCounted() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort(); // closed again: nothing listens there
        }
        Sink sink = new KafkaSink.Provider().create(ProducerSettingsTest.contextOf(
                Map.of("bootstrap", "127.0.0.1:" + port, "topic", "t", "max.block.ms", "200")));
        try {
            sink.accept(event(1, 10));
            KafkaSink.UnsentEvent unsent = assertThrows(KafkaSink.UnsentEvent.class, () -> sink.accept(event(2, 20)));
            assertTrue(unsent.getMessage().startsWith("not sent, the broker did not answer for an earlier event of its"
                    + " batch: org.apache.kafka.common.errors.TimeoutException: Topic t not present in metadata after"
                    + " 200 ms"), unsent.getMessage());
            assertThrows(KafkaSink.UnsentEvent.class, () -> sink.accept(event(3, 30)));
            PartialFailure f = assertThrows(PartialFailure.class, sink::flush);
            assertEquals(1, f.events());
            assertEquals(10, f.bytes());
            assertEquals(Map.of("failed TimeoutException", 1L, "failed unsent", 2L), sink.counters());

            // the next batch tries again
            sink.accept(event(4, 40));
            PartialFailure again = assertThrows(PartialFailure.class, sink::flush);
            assertEquals(40, again.bytes());
            assertEquals(Map.of("failed TimeoutException", 2L, "failed unsent", 2L), sink.counters());
        } finally {
            sink.close();
        }
    }
}
