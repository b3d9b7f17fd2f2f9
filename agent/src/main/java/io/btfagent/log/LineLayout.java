package io.btfagent.log;

import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.IThrowableProxy;
import ch.qos.logback.classic.spi.ThrowableProxyUtil;
import ch.qos.logback.core.CoreConstants;
import ch.qos.logback.core.LayoutBase;
import java.time.Instant;
import java.time.LocalTime;
import java.time.ZoneId;

/**
 * The agent's line: {@code [btf-agent] HH:mm:ss.SSS LEVEL message}, the level padded to five
 * characters, then the stack trace of a throwable if the event has one. Written out by hand:
 * logback's PatternLayout would parse a pattern and register its some ninety converters on
 * the agent's start-up path, for one fixed format.
 */
final class LineLayout extends LayoutBase<ILoggingEvent> {
    private final ZoneId zone = ZoneId.systemDefault();

    @Override
    public String doLayout(ILoggingEvent event) {
        StringBuilder b = new StringBuilder(96).append(AgentLog.PREFIX).append(' ');
        LocalTime t = LocalTime.ofInstant(Instant.ofEpochMilli(event.getTimeStamp()), zone);
        two(b, t.getHour()).append(':');
        two(b, t.getMinute()).append(':');
        two(b, t.getSecond()).append('.');
        int ms = t.getNano() / 1_000_000;
        b.append((char) ('0' + ms / 100)).append((char) ('0' + ms / 10 % 10)).append((char) ('0' + ms % 10));
        String level = event.getLevel().toString();
        b.append(' ').append(level);
        for (int i = level.length(); i < 5; i++) {
            b.append(' ');
        }
        b.append(' ').append(event.getFormattedMessage()).append(CoreConstants.LINE_SEPARATOR);
        IThrowableProxy thrown = event.getThrowableProxy();
        if (thrown != null) {
            b.append(ThrowableProxyUtil.asString(thrown)).append(CoreConstants.LINE_SEPARATOR);
        }
        return b.toString();
    }

    private static StringBuilder two(StringBuilder b, int v) {
        return b.append((char) ('0' + v / 10)).append((char) ('0' + v % 10));
    }
}
