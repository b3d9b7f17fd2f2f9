package io.btfagent.log;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.LoggingEvent;
import java.time.LocalDateTime;
import java.time.ZoneId;
import org.junit.jupiter.api.Test;

class LineLayoutTest {
    private final LoggerContext ctx = new LoggerContext();
    private final Logger logger = ctx.getLogger("btf-agent");

    private String line(Level level, String message, Throwable t, Object... args) {
        LoggingEvent e = new LoggingEvent(Logger.FQCN, logger, level, message, t, args);
        e.setTimeStamp(LocalDateTime.of(2026, 12, 1, 7, 5, 9, 42_000_000).atZone(ZoneId.systemDefault()).toInstant()
                .toEpochMilli());
        LineLayout layout = new LineLayout();
        layout.setContext(ctx);
        layout.start();
        return layout.doLayout(e);
    }

    @Test
    void prefixTimeLevelPaddedToFiveAndTheFormattedMessage() {
        assertEquals("[btf-agent] 07:05:09.042 INFO  hooked openssl 3.0.19 at /lib\n",
                line(Level.INFO, "hooked openssl {} at {}", null, "3.0.19", "/lib"));
        assertEquals("[btf-agent] 07:05:09.042 WARN  no sink could start\n", line(Level.WARN, "no sink could start", null));
        assertEquals("[btf-agent] 07:05:09.042 DEBUG x\n", line(Level.DEBUG, "x", null));
        assertEquals("[btf-agent] 07:05:09.042 ERROR x\n", line(Level.ERROR, "x", null));
    }

    @Test
    void aThrowableFollowsWithItsStackTrace() {
        String out = line(Level.DEBUG, "cause", new IllegalStateException("Shutdown in progress"));
        assertTrue(out.startsWith("[btf-agent] 07:05:09.042 DEBUG cause\njava.lang.IllegalStateException: "
                + "Shutdown in progress\n\tat io.btfagent.log.LineLayoutTest."), out);
        assertTrue(out.endsWith("\n"), out);
    }
}
