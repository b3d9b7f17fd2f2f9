package io.btfagent.hook;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.btfagent.tls.LibraryScanner;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;

class HookedLibrariesTest {
    private final ListAppender<ILoggingEvent> lines = new ListAppender<>();
    private final HookedLibraries libraries = new HookedLibraries(logger());

    private Logger logger() {
        LoggerContext ctx = new LoggerContext();
        Logger log = ctx.getLogger("test");
        log.setLevel(Level.DEBUG);
        lines.setContext(ctx);
        lines.start();
        log.addAppender(lines);
        return log;
    }

    private static LibraryScanner.LibraryFile file(String key) {
        return new LibraryScanner.LibraryFile(Path.of("/opt/lib/libssl.so.3"), key);
    }

    @Test
    void aWatchedLibraryRefusedQuietlyIsTriedAgainOnceMappedAndThenSaidAsAWarning() {
        LibraryScanner.LibraryFile f = file("8:1:1311");
        assertFalse(libraries.decided(f, false));
        libraries.refuse(f, false, "not hooking /opt/lib/libssl.so.3: no BTF");
        assertTrue(libraries.decided(f, false), "not tried again while only watched");
        assertFalse(libraries.decided(f, true), "tried again once the process maps it");
        libraries.refuse(f, true, "not hooking /opt/lib/libssl.so.3: no BTF");
        assertTrue(libraries.decided(f, true));
        assertTrue(libraries.decided(f, false));
        assertEquals(List.of(Level.DEBUG, Level.WARN), lines.list.stream().map(ILoggingEvent::getLevel).toList());
        assertEquals("not hooking /opt/lib/libssl.so.3: no BTF", lines.list.get(1).getFormattedMessage());
        assertFalse(libraries.decided(file("8:1:1312"), true), "another file is not decided");
    }

    @Test
    void aRefusalLineIsLoggedAsItIsEvenWithBraces() {
        libraries.refuse(file("8:1:1"), true, "not hooking /tmp/{}/libssl.so.3: bad");
        assertEquals("not hooking /tmp/{}/libssl.so.3: bad", lines.list.get(0).getFormattedMessage());
    }

    @Test
    void nothingHookedCountsNothing() {
        assertEquals(0, libraries.size());
        assertArrayEquals(new long[4], libraries.kernelCounters(4));
        assertEquals(0, libraries.movedFunctions());
        assertEquals(0, libraries.entryFunctions());
        assertEquals(List.of(), libraries.statusLines());
        assertEquals(List.of(), libraries.links());
    }
}
