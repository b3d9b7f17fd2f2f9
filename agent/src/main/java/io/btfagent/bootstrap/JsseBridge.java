package io.btfagent.bootstrap;

import java.nio.ByteBuffer;

/**
 * What the code the agent weaves into the JSSE implementations' classes (the JDK's own
 * {@code sun.security.ssl}, Conscrypt's, BouncyCastle's) calls: the JDK's classes are in the
 * bootstrap loader and can only see this one there; every loader sees it. It only
 * forwards to the agent's {@link Listener}, never throws, and costs a volatile read when the
 * agent is not listening.
 */
public final class JsseBridge {
    /** Implemented inside the agent. */
    public interface Listener {
        /**
         * Before an engine's wrap (its sources) or unwrap (its destinations): remembers where
         * {@code buffers[offset..offset+length)} stand; the value is given back to {@link #engine}.
         */
        long mark(ByteBuffer[] buffers, int offset, int length);

        /**
         * After an engine's wrap ({@code wrap}: the application's bytes consumed from the
         * buffers) or unwrap (the application's bytes produced into them), which returned normally.
         */
        void engine(Object engine, boolean wrap, ByteBuffer[] buffers, int offset, int length, long mark);

        /**
         * The JDK's HttpClient is about to finish connecting {@code connection} (its TCP channel
         * is connected) over {@code engine}: the engine's addresses are known now.
         */
        void channel(Object engine, Object connection);

        /** After an SSLSocket's application stream wrote ({@code write}) or read {@code n} bytes at {@code b[off]}. */
        void stream(Object socket, boolean write, byte[] b, int off, int n);

        /** After an SSLSocket's application stream read the one byte {@code b} ({@code read()}). */
        void streamByte(Object socket, int b);

        /** After an SSLSocket's application stream wrote {@code b} from {@code from} to its position. */
        void streamBuffer(Object socket, ByteBuffer b, int from);
    }

    private static volatile Listener listener;

    private JsseBridge() {
    }

    public static void install(Listener l) {
        listener = l;
    }

    public static long mark(ByteBuffer[] buffers, int offset, int length) {
        Listener l = listener;
        if (l != null) {
            try {
                return l.mark(buffers, offset, length);
            } catch (Throwable ignored) {
                // the application must never see the agent fail
            }
        }
        return -1;
    }

    public static void engine(Object engine, boolean wrap, ByteBuffer[] buffers, int offset, int length, long mark) {
        Listener l = listener;
        if (l != null && mark != -1) {
            try {
                l.engine(engine, wrap, buffers, offset, length, mark);
            } catch (Throwable ignored) {
                // the application must never see the agent fail
            }
        }
    }

    public static void channel(Object engine, Object connection) {
        Listener l = listener;
        if (l != null) {
            try {
                l.channel(engine, connection);
            } catch (Throwable ignored) {
                // the application must never see the agent fail
            }
        }
    }

    public static void stream(Object socket, boolean write, byte[] b, int off, int n) {
        Listener l = listener;
        if (l != null && n > 0) {
            try {
                l.stream(socket, write, b, off, n);
            } catch (Throwable ignored) {
                // the application must never see the agent fail
            }
        }
    }

    public static void streamByte(Object socket, int b) {
        Listener l = listener;
        if (l != null && b >= 0) {
            try {
                l.streamByte(socket, b);
            } catch (Throwable ignored) {
                // the application must never see the agent fail
            }
        }
    }

    public static void streamBuffer(Object socket, ByteBuffer b, int from) {
        Listener l = listener;
        if (l != null && from >= 0) {
            try {
                l.streamBuffer(socket, b, from);
            } catch (Throwable ignored) {
                // the application must never see the agent fail
            }
        }
    }
}
