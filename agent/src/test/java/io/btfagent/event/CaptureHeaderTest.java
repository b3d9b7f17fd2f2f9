package io.btfagent.event;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * capture_event.h is the one definition of every function id, counter and record flag; the
 * Java enums are its twins. Every enumerator of the C enums must have a Java constant of the
 * same name and value, and every Java constant a C enumerator: adding one on one side only
 * fails here.
 */
class CaptureHeaderTest {
    private static final Path HEADER = Path.of("..", "bpf", "src", "main", "bpf", "capture_event.h");

    /** Enumerators of {@code enum name} in the header, by name, comments removed. */
    static Map<String, Long> cEnum(String name) throws IOException {
        String header = Files.readString(HEADER).replaceAll("(?s)/\\*.*?\\*/", "");
        Matcher body = Pattern.compile("enum " + name + "\\s*\\{(.*?)\\};", Pattern.DOTALL).matcher(header);
        assertTrue(body.find(), "enum " + name + " in " + HEADER);
        Map<String, Long> out = new LinkedHashMap<>();
        for (String item : body.group(1).split(",")) {
            if (item.isBlank()) {
                continue;
            }
            Matcher m = Pattern.compile("^\\s*(\\w+)\\s*=\\s*(0x[0-9a-fA-F]+|\\d+)\\s*$").matcher(item);
            assertTrue(m.find(), "every enumerator has an explicit value: '" + item.strip() + "'");
            out.put(m.group(1), Long.decode(m.group(2)));
        }
        return out;
    }

    private static <E extends Enum<E>> Map<String, Long> java(E[] values, Function<E, String> cName,
            Function<E, Integer> value) {
        Map<String, Long> out = new LinkedHashMap<>();
        for (E e : values) {
            out.put(cName.apply(e), (long) value.apply(e));
        }
        return out;
    }

    @Test
    void everyFunctionIdIsTheHeaders() throws IOException {
        assertEquals(cEnum("capture_func"),
                java(CaptureFunction.values(), CaptureFunction::cName, CaptureFunction::id));
    }

    @Test
    void functionIdsAreDenseSoTheyIndexTheFunctionList() {
        for (int i = 0; i < CaptureFunction.values().length; i++) {
            assertEquals(i, CaptureFunction.values()[i].id());
            assertEquals(CaptureFunction.values()[i], CaptureFunction.byId(i).orElseThrow());
        }
        assertTrue(CaptureFunction.byId(CaptureFunction.values().length).isEmpty());
        assertTrue(CaptureFunction.byId(-1).isEmpty());
    }

    @Test
    void theSymbolOfEachFunctionIsItsCNameInLowerCaseFamilyPrefixKept() {
        for (CaptureFunction f : CaptureFunction.values()) {
            assertEquals(f.name(), f.symbol().toUpperCase(java.util.Locale.ROOT));
        }
    }

    @Test
    void everyCounterIsTheHeadersAndCounterMaxCountsThem() throws IOException {
        Map<String, Long> c = cEnum("capture_counter");
        Long max = c.remove("COUNTER_MAX");
        assertEquals((long) CaptureCounter.values().length, max);
        assertEquals(c, java(CaptureCounter.values(), CaptureCounter::cName, CaptureCounter::index));
        assertEquals(CaptureCounter.values().length,
                Arrays.stream(CaptureCounter.values()).map(CaptureCounter::label).distinct().count(),
                "labels are distinct");
    }

    @Test
    void everyConnRoleIsTheHeaders() throws IOException {
        assertEquals(cEnum("conn_role"), java(ConnRole.values(), ConnRole::cName, ConnRole::value));
    }

    @Test
    void everyRecordFlagIsTheHeaders() throws IOException {
        assertEquals(cEnum("capture_flags"), java(RecordFlag.values(), RecordFlag::cName, RecordFlag::bit));
        assertEquals(RecordFlag.TRUNCATED.bit(), RecordLayout.FLAG_TRUNCATED);
    }
}
