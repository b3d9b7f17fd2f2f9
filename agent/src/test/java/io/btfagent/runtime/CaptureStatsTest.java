package io.btfagent.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.btfagent.event.CaptureCounter;
import io.btfagent.sink.Dispatcher;
import java.util.List;
import org.junit.jupiter.api.Test;

class CaptureStatsTest {
    private static final CaptureStats STATS = new CaptureStats(2, new long[] {10, 12, 3, 4096, 1, 100, 7, 0, 5}, 6, 8,
            List.of(new Dispatcher.SinkStats("log", 12, 0, 0), new Dispatcher.SinkStats("jsonl", 9, 2, 1)), 2, 4);

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
                + "QUIC objects skipped=5, functions probed on emulated instructions=2, functions probed at entry=4, "
                + "records undecodable=6, records refused (BTF check)=8, "
                + "sink log: delivered=12 dropped=0 failed=0, sink jsonl: delivered=9 dropped=2 failed=1",
                STATS.summaryLine());
    }

    @Test
    void theJsonLineNamesEachCounterByItsCName() {
        assertEquals("{\"hooked\":2,\"calls\":10,\"records\":12,\"records_lost\":3,\"bytes_lost\":4096,"
                + "\"calls_truncated\":1,\"bytes_truncated\":100,\"read_faults\":7,\"entry_missed\":0,"
                + "\"quic_skipped\":5,\"functions_probed_on_emulated\":2,\"functions_probed_at_entry\":4,"
                + "\"records_undecodable\":6,\"records_refused\":8,\"sinks\":{"
                + "\"log\":{\"delivered\":12,\"dropped\":0,\"failed\":0},"
                + "\"jsonl\":{\"delivered\":9,\"dropped\":2,\"failed\":1}}}", STATS.json());
    }

    @Test
    void withoutSinksTheJsonStaysAnObject() {
        CaptureStats s = new CaptureStats(0, new long[CaptureCounter.values().length], 0, 0, List.of());
        assertEquals("{\"hooked\":0,\"calls\":0,\"records\":0,\"records_lost\":0,\"bytes_lost\":0,"
                + "\"calls_truncated\":0,\"bytes_truncated\":0,\"read_faults\":0,\"entry_missed\":0,"
                + "\"quic_skipped\":0,\"functions_probed_on_emulated\":0,\"functions_probed_at_entry\":0,"
                + "\"records_undecodable\":0,\"records_refused\":0,\"sinks\":{}}", s.json());
        assertEquals(s, s.withSinks(List.of()));
    }

    @Test
    void aSinkNameIsEscaped() {
        CaptureStats s = STATS.withSinks(List.of(new Dispatcher.SinkStats("a\"b", 1, 2, 3)));
        assertEquals(true, s.json().endsWith("\"sinks\":{\"a\\\"b\":{\"delivered\":1,\"dropped\":2,\"failed\":3}}}"),
                s.json());
    }

    @Test
    void theKernelCountersMustAllBeThere() {
        assertThrows(IllegalArgumentException.class, () -> new CaptureStats(0, new long[3], 0, 0, List.of()));
    }
}
