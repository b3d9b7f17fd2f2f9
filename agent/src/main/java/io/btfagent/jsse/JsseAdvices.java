package io.btfagent.jsse;

import io.btfagent.bootstrap.JsseBridge;
import java.nio.ByteBuffer;
import net.bytebuddy.asm.Advice;

/**
 * The code woven into the JSSE implementations' classes (the JDK's, in java.base, Conscrypt's
 * and BouncyCastle's). It is copied into those classes, so it
 * may only reference the bootstrap {@link JsseBridge} and the woven class's own members; every
 * piece suppresses whatever it throws. Exit advice runs on normal returns only: a call that
 * threw transferred nothing the application saw.
 */
final class JsseAdvices {
    private JsseAdvices() {
    }

    /**
     * SSLEngineImpl.wrap(srcs, srcsOffset, srcsLength, dsts, dstsOffset, dstsLength), and the
     * providers' wrap(srcs, offset, length, dst): what it consumed of srcs.
     */
    static final class EngineWrap {
        @Advice.OnMethodEnter(suppress = Throwable.class)
        static long enter(@Advice.Argument(0) ByteBuffer[] srcs, @Advice.Argument(1) int offset,
                @Advice.Argument(2) int length) {
            return JsseBridge.mark(srcs, offset, length);
        }

        @Advice.OnMethodExit(suppress = Throwable.class)
        static void exit(@Advice.This Object engine, @Advice.Argument(0) ByteBuffer[] srcs,
                @Advice.Argument(1) int offset, @Advice.Argument(2) int length, @Advice.Enter long mark) {
            JsseBridge.engine(engine, true, srcs, offset, length, mark);
        }
    }

    /** SSLEngineImpl.unwrap(srcs, srcsOffset, srcsLength, dsts, dstsOffset, dstsLength): what it produced into dsts. */
    static final class EngineUnwrap {
        @Advice.OnMethodEnter(suppress = Throwable.class)
        static long enter(@Advice.Argument(3) ByteBuffer[] dsts, @Advice.Argument(4) int offset,
                @Advice.Argument(5) int length) {
            return JsseBridge.mark(dsts, offset, length);
        }

        @Advice.OnMethodExit(suppress = Throwable.class)
        static void exit(@Advice.This Object engine, @Advice.Argument(3) ByteBuffer[] dsts,
                @Advice.Argument(4) int offset, @Advice.Argument(5) int length, @Advice.Enter long mark) {
            JsseBridge.engine(engine, false, dsts, offset, length, mark);
        }
    }

    /** BouncyCastle's ProvSSLEngine.unwrap(src, dsts, offset, length): what it produced into dsts. */
    static final class EngineUnwrapInto {
        @Advice.OnMethodEnter(suppress = Throwable.class)
        static long enter(@Advice.Argument(1) ByteBuffer[] dsts, @Advice.Argument(2) int offset,
                @Advice.Argument(3) int length) {
            return JsseBridge.mark(dsts, offset, length);
        }

        @Advice.OnMethodExit(suppress = Throwable.class)
        static void exit(@Advice.This Object engine, @Advice.Argument(1) ByteBuffer[] dsts,
                @Advice.Argument(2) int offset, @Advice.Argument(3) int length, @Advice.Enter long mark) {
            JsseBridge.engine(engine, false, dsts, offset, length, mark);
        }
    }

    /** A provider socket's application input stream's read() that does not go through read(b, off, len). */
    static final class StreamReadByte {
        @Advice.OnMethodExit(suppress = Throwable.class)
        static void exit(@Advice.FieldValue("this$0") Object socket, @Advice.Return int b) {
            JsseBridge.streamByte(socket, b);
        }
    }

    /**
     * Conscrypt's ConscryptEngineSocket.SSLOutputStream.writeInternal(buffer), which all its
     * writes end in: the bytes it consumed of buffer.
     */
    static final class StreamWriteBuffer {
        @Advice.OnMethodEnter(suppress = Throwable.class)
        static int enter(@Advice.Argument(0) ByteBuffer b) {
            return b.position();
        }

        @Advice.OnMethodExit(suppress = Throwable.class)
        static void exit(@Advice.FieldValue("this$0") Object socket, @Advice.Argument(0) ByteBuffer b,
                @Advice.Enter int from) {
            JsseBridge.streamBuffer(socket, b, from);
        }
    }

    /** SSLSocketImpl.AppInputStream.read(b, off, len), and the providers' streams': the bytes it returned. */
    static final class StreamRead {
        @Advice.OnMethodExit(suppress = Throwable.class)
        static void exit(@Advice.FieldValue("this$0") Object socket, @Advice.Argument(0) byte[] b,
                @Advice.Argument(1) int off, @Advice.Return int n) {
            JsseBridge.stream(socket, false, b, off, n);
        }
    }

    /** SSLSocketImpl.AppOutputStream.write(b, off, len): the bytes it wrote. */
    static final class StreamWrite {
        @Advice.OnMethodExit(suppress = Throwable.class)
        static void exit(@Advice.FieldValue("this$0") Object socket, @Advice.Argument(0) byte[] b,
                @Advice.Argument(1) int off, @Advice.Argument(2) int len) {
            JsseBridge.stream(socket, true, b, off, len);
        }
    }

    /**
     * The JDK HttpClient's AsyncSSLConnection/AsyncSSLTunnelConnection.finishConnect(): its
     * channel is connected and its engine made, before any application byte.
     */
    static final class HttpClientConnect {
        @Advice.OnMethodEnter(suppress = Throwable.class)
        static void enter(@Advice.This Object connection, @Advice.FieldValue("engine") Object engine) {
            JsseBridge.channel(engine, connection);
        }
    }
}
