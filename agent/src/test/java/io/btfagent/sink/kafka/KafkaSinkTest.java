package io.btfagent.sink.kafka;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.btfagent.event.CaptureEvent;
import io.btfagent.sink.Sink;
import io.btfagent.sink.SinkUnavailable;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.util.List;
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
    void withoutABrokerEventsAreHeldUnsentInOrderAndFailOnlyAfterTheDeliveryTimeout() throws Exception {
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort(); // closed again: nothing listens there
        }
        Sink sink = new KafkaSink.Provider().create(ProducerSettingsTest.contextOf(Map.of("bootstrap", "127.0.0.1:"
                + port, "topic", "t", "max.block.ms", "1000", "linger.ms", "0", "request.timeout.ms", "500",
                "delivery.timeout.ms", "4000")));
        try {
            assertEquals(4000, sink.maxHoldMillis());
            sink.accept(event(1, 10)); // waits max.block.ms for metadata, then held unsent
            long start = System.nanoTime();
            sink.accept(event(2, 20)); // held unsent at once
            sink.accept(event(3, 30));
            assertTrue(System.nanoTime() - start < 900_000_000L, "one wait of max.block.ms, not one per event");
            SinkUnavailable held = assertThrows(SinkUnavailable.class, sink::flush);
            assertEquals(List.of(3L, 60L, 0L, 0L), List.of(held.heldEvents(), held.heldBytes(), held.failedEvents(),
                    held.failedBytes()));
            assertEquals("cannot deliver to the broker at 127.0.0.1:" + port + ": org.apache.kafka.common.errors"
                    + ".TimeoutException: Topic t not present in metadata after 1000 ms.", held.getMessage());
            // a try: the first held record waits max.block.ms again, the rest stay unsent
            SinkUnavailable again = assertThrows(SinkUnavailable.class, sink::flush);
            assertEquals(3, again.heldEvents());
            assertEquals(Map.of(), sink.counters());
            Thread.sleep(4_100);
            // held longer than delivery.timeout.ms: failed, all three
            SinkUnavailable f = assertThrows(SinkUnavailable.class, sink::flush);
            assertEquals(List.of(0L, 0L, 3L, 60L), List.of(f.heldEvents(), f.heldBytes(), f.failedEvents(),
                    f.failedBytes()));
            assertEquals(Map.of("failed unsent", 3L), sink.counters());
            sink.flush(); // nothing left
        } finally {
            sink.close();
        }
    }
}
