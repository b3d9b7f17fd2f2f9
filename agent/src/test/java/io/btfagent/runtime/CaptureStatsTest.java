package io.btfagent.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.btfagent.event.CaptureCounter;
import io.btfagent.sink.Dispatcher;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class CaptureStatsTest {
    private static final CaptureStats STATS = new CaptureStats(2, new long[] {10, 12, 3, 4096, 1, 100, 7, 0, 5, 4, 0}, 6, 8,
            List.of(new Dispatcher.SinkStats("log", c(12, 1200), c(0, 0), c(0, 0), c(0, 0), Map.of()),
                    new Dispatcher.SinkStats("jsonl", c(9, 900), c(2, 200), c(1, 100), c(0, 0),
                            Map.of("rotations", 1L, "damaged lines", 0L))), 2, 4);

    private static Dispatcher.Count c(long events, long bytes) {
        return new Dispatcher.Count(events, bytes);
    }

    @Test
    void countersAreReadByTheirEnumNotByTheirLabel() {
        assertEquals(3, STATS.get(CaptureCounter.RECORDS_LOST));
        assertEquals(4096, STATS.get(CaptureCounter.BYTES_LOST));
        assertEquals(5, STATS.get(CaptureCounter.QUIC_SKIPPED));
    }

    @Test
    void theSummaryLineIsTheOneLoggedSinceTheStart() {
        assertEquals("capture summary: calls=10, records=12, records lost (ring full)=3, bytes lost (ring full)=4096, "
                + "calls truncated=1, bytes truncated=100, bytes unreadable=7, returns without entry=0, "
                + "QUIC objects skipped=5, connections=4, records without conn=0, "
                + "functions probed on emulated instructions=2, functions probed at entry=4, "
                + "records undecodable=6, records refused (BTF check)=8, "
                + "sink log: delivered=12 dropped=0 failed=0 bytes: delivered=1200 queue-full=0 (0 events) failed=0"
                + " (0 events) exit=0 (0 events), sink jsonl: delivered=9 dropped=2 failed=1 bytes: delivered=900"
                + " queue-full=200 (2 events) failed=100 (1 event) exit=0 (0 events); damaged lines=0; rotations=1",
                STATS.summaryLine());
    }

    @Test
    void theJsonLineNamesEachCounterByItsCName() {
        assertEquals("{\"hooked\":2,\"calls\":10,\"records\":12,\"records_lost\":3,\"bytes_lost\":4096,"
                + "\"calls_truncated\":1,\"bytes_truncated\":100,\"read_faults\":7,\"entry_missed\":0,"
                + "\"quic_skipped\":5,\"conns\":4,\"conns_unnumbered\":0,"
                + "\"functions_probed_on_emulated\":2,\"functions_probed_at_entry\":4,"
                + "\"records_undecodable\":6,\"records_refused\":8,"
                + "\"jsse\":{\"calls\":0,\"bytes\":0,\"events\":0,\"calls_truncated\":0,\"bytes_truncated\":0,"
                + "\"conns\":0},\"sinks\":{"
                + "\"log\":{\"delivered\":12,\"dropped\":0,\"failed\":0,\"delivered_events\":12,"
                + "\"delivered_bytes\":1200,\"queue_full_events\":0,\"queue_full_bytes\":0,\"failed_events\":0,"
                + "\"failed_bytes\":0,\"exit_events\":0,\"exit_bytes\":0},"
                + "\"jsonl\":{\"delivered\":9,\"dropped\":2,\"failed\":1,\"delivered_events\":9,"
                + "\"delivered_bytes\":900,\"queue_full_events\":2,\"queue_full_bytes\":200,\"failed_events\":1,"
                + "\"failed_bytes\":100,\"exit_events\":0,\"exit_bytes\":0,\"damaged_lines\":0,\"rotations\":1}}}",
                STATS.json());
    }

    @Test
    void withoutSinksTheJsonStaysAnObject() {
        CaptureStats s = new CaptureStats(0, new long[CaptureCounter.values().length], 0, 0, List.of());
        assertEquals("{\"hooked\":0,\"calls\":0,\"records\":0,\"records_lost\":0,\"bytes_lost\":0,"
                + "\"calls_truncated\":0,\"bytes_truncated\":0,\"read_faults\":0,\"entry_missed\":0,"
                + "\"quic_skipped\":0,\"conns\":0,\"conns_unnumbered\":0,"
                + "\"functions_probed_on_emulated\":0,\"functions_probed_at_entry\":0,"
                + "\"records_undecodable\":0,\"records_refused\":0,"
                + "\"jsse\":{\"calls\":0,\"bytes\":0,\"events\":0,\"calls_truncated\":0,\"bytes_truncated\":0,"
                + "\"conns\":0},\"sinks\":{}}", s.json());
        assertEquals(s, s.withSinks(List.of()));
    }

    @Test
    void jsseCountersAreKeptThroughWithSinks() {
        CaptureStats s = new CaptureStats(0, new long[CaptureCounter.values().length], 0, 0, List.of(), 0, 0,
                new io.btfagent.jsse.JsseCapture.Counters(3, 300, 2, 1, 50, 1));
        assertEquals(true, s.json().contains("\"jsse\":{\"calls\":3,\"bytes\":300,\"events\":2,"
                + "\"calls_truncated\":1,\"bytes_truncated\":50,\"conns\":1}"), s.json());
        assertEquals(s.jsse(), s.withSinks(List.of()).jsse());
        assertEquals(true, s.summaryLine().contains("jsse calls=3, jsse bytes=300"), s.summaryLine());
    }

    @Test
    void aSinkNameIsEscaped() {
        CaptureStats s = STATS.withSinks(List.of(new Dispatcher.SinkStats("a\"b", c(1, 1), c(2, 2), c(3, 3), c(0, 0),
                Map.of())));
        assertEquals(true, s.json().endsWith("\"sinks\":{\"a\\\"b\":{\"delivered\":1,\"dropped\":2,\"failed\":3,"
                + "\"delivered_events\":1,\"delivered_bytes\":1,\"queue_full_events\":2,\"queue_full_bytes\":2,"
                + "\"failed_events\":3,\"failed_bytes\":3,\"exit_events\":0,\"exit_bytes\":0}}}"), s.json());
    }

    @Test
    void theKernelCountersMustAllBeThere() {
        assertThrows(IllegalArgumentException.class, () -> new CaptureStats(0, new long[3], 0, 0, List.of()));
    }
}
