package io.btfagent.log;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.IThrowableProxy;
import ch.qos.logback.core.AppenderBase;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Forwards a library's log events to the agent's logger as one line each ({@code kafka: ...}):
 * the exception's class and message instead of a stack trace, and a line repeated within a
 * minute (a client retrying an unreachable broker every second) written once, with how many
 * times it was repeated in the meantime.
 */
final class LibraryLines extends AppenderBase<ILoggingEvent> {
    private static final long REPEAT_NANOS = 60_000_000_000L;
    private static final int REMEMBERED = 256;

    private final String library;
    private final Logger target;
    /** Last time each line was written, and how often it was held back since. */
    private final Map<String, long[]> recent = new LinkedHashMap<>(16, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<String, long[]> eldest) {
            return size() > REMEMBERED;
        }
    };

    LibraryLines(String library, Logger target) {
        this.library = library;
        this.target = target;
    }

    @Override
    protected void append(ILoggingEvent e) {
        StringBuilder b = new StringBuilder(library).append(": ").append(e.getFormattedMessage());
        for (IThrowableProxy t = e.getThrowableProxy(); t != null; t = t.getCause()) {
            b.append(t == e.getThrowableProxy() ? " (" : "; caused by ").append(t.getClassName());
            if (t.getMessage() != null) {
                b.append(": ").append(t.getMessage());
            }
            if (t.getCause() == null) {
                b.append(')');
            }
        }
        String line = b.toString().replace('\n', ' ');
        long now = System.nanoTime();
        long held;
        synchronized (recent) {
            long[] seen = recent.get(line);
            if (seen != null && now - seen[0] < REPEAT_NANOS) {
                seen[1]++;
                return;
            }
            held = seen == null ? 0 : seen[1];
            recent.put(line, new long[] {now, 0});
        }
        String out = held == 0 ? line : line + " (and " + held + " times like it in the last minute)";
        if (e.getLevel().isGreaterOrEqual(Level.ERROR)) {
            target.error(out);
        } else {
            target.warn(out);
        }
    }
}
