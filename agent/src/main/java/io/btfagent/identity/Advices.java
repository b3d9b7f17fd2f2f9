package io.btfagent.identity;

import io.btfagent.bootstrap.ConnectionBridge;
import net.bytebuddy.asm.Advice;

/**
 * The code woven into the TLS stacks' classes. It is copied into those classes, so it may only
 * reference the bootstrap {@link ConnectionBridge} and the woven class's own members; every
 * piece suppresses whatever it throws.
 */
final class Advices {
    private Advices() {
    }

    /** On an engine's wrap/unwrap: the calling thread drives the TLS library now. */
    static final class EngineCall {
        @Advice.OnMethodEnter(suppress = Throwable.class)
        static void enter() {
            ConnectionBridge.engineCall();
        }
    }

    /**
     * wildfly-openssl's OpenSSLSocket.runHandshake(), which its reads and writes call too: the
     * socket is reported on entry and exit only while its handshake is not done (the engine may
     * make its SSL* in between), never again for the connection's data.
     */
    static final class WildflyRunHandshake {
        @Advice.OnMethodEnter(suppress = Throwable.class)
        static boolean enter(@Advice.This Object socket, @Advice.FieldValue("handshakeDone") boolean done) {
            if (!done) {
                ConnectionBridge.connection(socket, null);
            }
            return done;
        }

        @Advice.OnMethodExit(suppress = Throwable.class)
        static void exit(@Advice.This Object socket, @Advice.Enter boolean wasDone) {
            if (!wasDone) {
                ConnectionBridge.connection(socket, null);
            }
        }
    }

    /** After netty's SslHandler.handlerAdded/channelActive(ctx): the channel may be connected now. */
    static final class HandlerActive {
        @Advice.OnMethodExit(suppress = Throwable.class)
        static void exit(@Advice.This Object handler, @Advice.Argument(0) Object ctx) {
            ConnectionBridge.connection(handler, ctx);
        }
    }

    /** wildfly-openssl's OpenSSLEngine.initSsl(): reports the engine once, when it made its SSL*. */
    static final class WildflyInitSsl {
        @Advice.OnMethodEnter(suppress = Throwable.class)
        static boolean enter(@Advice.FieldValue("ssl") long ssl) {
            return ssl == 0;
        }

        @Advice.OnMethodExit(suppress = Throwable.class)
        static void exit(@Advice.This Object engine, @Advice.Enter boolean fresh) {
            if (fresh) {
                ConnectionBridge.connection(engine, null);
            }
        }
    }

    /**
     * Tomcat's SecureNioChannel.handshake(read, write): after each step of a handshake (the first
     * makes the engine), so the channel is reported before the step that may also read the
     * first application bytes. Once the handshake is done, nothing more is reported.
     */
    static final class TomcatHandshake {
        @Advice.OnMethodEnter(suppress = Throwable.class)
        static boolean enter(@Advice.FieldValue("handshakeComplete") boolean complete) {
            return complete;
        }

        @Advice.OnMethodExit(suppress = Throwable.class)
        static void exit(@Advice.This Object channel, @Advice.Enter boolean wasComplete) {
            if (!wasComplete) {
                ConnectionBridge.connection(channel, null);
            }
        }
    }

    /**
     * A JSSE stack's connection object whose socket is connected when the method is entered:
     * Kafka's SslTransportLayer.handshake() (called only until its handshake is done) and
     * Jetty's SslConnection.onOpen() (once). Reported so the engine's events carry the
     * channel's addresses.
     */
    static final class ConnectedEnter {
        @Advice.OnMethodEnter(suppress = Throwable.class)
        static void enter(@Advice.This Object connection) {
            ConnectionBridge.connection(connection, null);
        }
    }
}
