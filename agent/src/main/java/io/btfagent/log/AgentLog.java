package io.btfagent.log;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.AppenderBase;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.encoder.LayoutWrappingEncoder;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/**
 * The agent's own logging: a private logback context configured in code, writing to stderr
 * with the {@code [btf-agent]} prefix. It never runs logback's auto-configuration, so the
 * application's logback.xml and -Dlogback.configurationFile are never read.
 */
public final class AgentLog {
    /** Marks every line the agent writes, so it can be told apart from the application's. */
    public static final String PREFIX = "[btf-agent]";

    private static volatile Logger logger;
    private static volatile LoggerContext libraries;
    /** Receivers of the agent's lines besides stderr (the terminal of an {@code attach} command). */
    private static final List<Consumer<String>> TAPS = new CopyOnWriteArrayList<>();

    private AgentLog() {
    }

    /** Creates the context once; later calls only change the level. */
    public static synchronized Logger start(String level) {
        if (logger == null) {
            LoggerContext ctx = new LoggerContext();
            ctx.setName("btf-agent");
            // Set by auto-configuration normally, which this context deliberately skips.
            ctx.setMDCAdapter(new ch.qos.logback.classic.util.LogbackMDCAdapter());
            LineLayout layout = new LineLayout();
            layout.setContext(ctx);
            layout.start();
            LayoutWrappingEncoder<ILoggingEvent> enc = new LayoutWrappingEncoder<>();
            enc.setContext(ctx);
            enc.setLayout(layout);
            enc.start();
            ConsoleAppender<ch.qos.logback.classic.spi.ILoggingEvent> out = new ConsoleAppender<>();
            out.setContext(ctx);
            out.setName("stderr");
            out.setTarget("System.err");
            out.setEncoder(enc);
            out.start();
            AppenderBase<ILoggingEvent> taps = new AppenderBase<>() {
                @Override
                protected void append(ILoggingEvent e) {
                    if (!TAPS.isEmpty() && e.getLevel().isGreaterOrEqual(Level.INFO)) {
                        String line = e.getLevel() + " " + e.getFormattedMessage();
                        TAPS.forEach(t -> t.accept(line));
                    }
                }
            };
            taps.setContext(ctx);
            taps.setName("taps");
            taps.start();
            Logger l = ctx.getLogger("btf-agent");
            l.setAdditive(false);
            l.addAppender(out);
            l.addAppender(taps);
            // Libraries logging through slf4j (AgentSlf4jProvider): nothing but kafka-clients'
            // warnings, each forwarded as one line of the agent's own.
            ctx.getLogger(Logger.ROOT_LOGGER_NAME).setLevel(Level.OFF);
            LibraryLines kafka = new LibraryLines("kafka", l);
            kafka.setContext(ctx);
            kafka.setName("kafka");
            kafka.start();
            Logger k = ctx.getLogger("org.apache.kafka");
            k.setLevel(Level.WARN);
            k.setAdditive(false);
            k.addAppender(kafka);
            ctx.start();
            libraries = ctx;
            logger = l;
        }
        logger.setLevel(Level.toLevel(level, Level.INFO));
        return logger;
    }

    /** The agent's logback context, as the slf4j logger factory of the libraries it carries. */
    public static LoggerContext libraryLoggers() {
        get();
        return libraries;
    }

    /** The agent logger; before {@link #start} a plain stderr fallback is used by callers. */
    public static Logger get() {
        Logger l = logger;
        return l != null ? l : start("info");
    }

    /** A line on stderr for the time before logging is up (or when it cannot start). */
    public static void early(String message) {
        System.err.println(PREFIX + " " + message);
        TAPS.forEach(t -> t.accept(message));
    }

    /**
     * Hands {@code receiver} every line of level INFO and above (as "LEVEL message") and every
     * early line, until the returned handle is closed.
     */
    public static AutoCloseable tap(Consumer<String> receiver) {
        TAPS.add(receiver);
        return () -> TAPS.remove(receiver);
    }

    /**
     * Milliseconds since the JVM started (-1 if unknown), the figure the agent's lines give times
     * in: {@code io.btfagent.BtfAgent.sinceStartMs}, reached through the system loader, which
     * holds the agent jar's one visible class.
     */
    public static long sinceJvmStartMs() {
        java.lang.invoke.MethodHandle clock = JvmClock.SINCE_START;
        if (clock == null) {
            return -1;
        }
        try {
            return (long) clock.invokeExact();
        } catch (Throwable t) {
            return -1;
        }
    }

    private static final class JvmClock {
        static final java.lang.invoke.MethodHandle SINCE_START = find();

        private static java.lang.invoke.MethodHandle find() {
            try {
                Class<?> agent = Class.forName("io.btfagent.BtfAgent", false, ClassLoader.getSystemClassLoader());
                return java.lang.invoke.MethodHandles.publicLookup().findStatic(agent, "sinceStartMs",
                        java.lang.invoke.MethodType.methodType(long.class));
            } catch (ReflectiveOperationException | RuntimeException e) {
                return null;
            }
        }
    }
}
