package io.btfagent.bootstrap;

/**
 * What the code the agent weaves into TLS stacks calls. That code runs inside application (and
 * JDK) classes, which cannot see the agent's isolated class loader, so this class is put in the
 * bootstrap loader where every class finds it; it only forwards to the agent's
 * {@link Listener}. It never throws, and costs a volatile read when the agent is not listening.
 */
public final class ConnectionBridge {
    /** Implemented inside the agent. */
    public interface Listener {
        /** The current thread is about to drive a TLS engine (and so call into its library). */
        void engineCall();

        /**
         * {@code holder} (a socket, channel, handler or engine of a known stack) may now tie a
         * TLS object to its connection; {@code context} is what the holder's method was given
         * (e.g. netty's ChannelHandlerContext), or null.
         */
        void connection(Object holder, Object context);
    }

    private static volatile Listener listener;

    private ConnectionBridge() {
    }

    public static void install(Listener l) {
        listener = l;
    }

    public static void engineCall() {
        Listener l = listener;
        if (l != null) {
            try {
                l.engineCall();
            } catch (Throwable ignored) {
                // the application must never see the agent fail
            }
        }
    }

    public static void connection(Object holder, Object context) {
        Listener l = listener;
        if (l != null) {
            try {
                l.connection(holder, context);
            } catch (Throwable ignored) {
                // the application must never see the agent fail
            }
        }
    }
}
