package io.btfagent.netty;

import io.btfagent.bench.ProfileWindow;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.channel.Channel;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.ssl.OpenSsl;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import io.netty.handler.ssl.SslProvider;
import java.io.BufferedReader;
import java.io.File;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The benchmark's small-message server: HTTPS on netty with netty-tcnative's BoringSSL, the
 * shape of most API servers. Every request on a keep-alive connection (headers only, as a load
 * generator such as wrk sends them) gets the same 100 B response; a request is counted at its
 * blank line, so requests that arrive together are answered together.
 *
 * <p>Arguments: certificate file, private key file (PEM), event loop threads. Prints {@code
 * port N} once listening. On stdin, one command a line: {@code profile start}, {@code profile
 * stop} (see {@link ProfileWindow}); {@code requests} prints {@code requests N}, the requests
 * answered so far. It stops at the end of stdin.
 */
public final class KeepAliveHttpsServer {
    /** 100 B: a status line, two headers and a 35 B body. */
    static final byte[] RESPONSE = ("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 35\r\n\r\n"
            + "{\"status\":\"ok\",\"items\":[1,2,3,45]}\n").getBytes(StandardCharsets.ISO_8859_1);
    private static final AtomicLong ANSWERED = new AtomicLong();

    private KeepAliveHttpsServer() {
    }

    public static void main(String[] args) throws Exception {
        if (!OpenSsl.isAvailable()) {
            System.err.println("netty-tcnative did not load: " + OpenSsl.unavailabilityCause());
            System.exit(2);
        }
        SslContext ssl = SslContextBuilder.forServer(new File(args[0]), new File(args[1]))
                .sslProvider(SslProvider.OPENSSL).build();
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(Integer.parseInt(args[2]), NioIoHandler.newFactory());
        try {
            Channel server = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                    .childHandler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel ch) {
                            ch.pipeline().addLast(ssl.newHandler(ch.alloc()), new Requests());
                        }
                    }).bind("127.0.0.1", 0).sync().channel();
            System.out.println("port " + ((java.net.InetSocketAddress) server.localAddress()).getPort());
            System.out.flush();
            BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
            for (String line; (line = in.readLine()) != null;) {
                switch (line.trim()) {
                    case "profile start" -> ProfileWindow.start();
                    case "profile stop" -> ProfileWindow.stop();
                    case "requests" -> System.out.println("requests " + ANSWERED.get());
                    default -> System.err.println("unknown command: " + line);
                }
                System.out.flush();
            }
            server.close().sync();
        } finally {
            group.shutdownGracefully(0, 1, TimeUnit.SECONDS).sync();
        }
    }

    /** Answers every request whose blank line ("\r\n\r\n") has arrived, across reads. */
    private static final class Requests extends ChannelInboundHandlerAdapter {
        private static final byte[] END = {'\r', '\n', '\r', '\n'};
        private int matched;

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf buf = (ByteBuf) msg;
            int complete = 0;
            try {
                for (int i = buf.readerIndex(); i < buf.writerIndex(); i++) {
                    byte b = buf.getByte(i);
                    matched = b == END[matched] ? matched + 1 : b == '\r' ? 1 : 0;
                    if (matched == END.length) {
                        matched = 0;
                        complete++;
                    }
                }
            } finally {
                buf.release();
            }
            for (int k = 0; k < complete; k++) {
                ctx.write(ctx.alloc().buffer(RESPONSE.length).writeBytes(RESPONSE));
            }
            if (complete > 0) {
                ANSWERED.addAndGet(complete);
                ctx.flush();
            }
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            ctx.close();
        }
    }
}
