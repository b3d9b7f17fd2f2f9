package io.btfagent.netty;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
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
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.Base64;

/**
 * An HTTPS server on netty with netty-tcnative's BoringSSL (the OPENSSL provider), the TLS of
 * most netty services. It reads each connection's plaintext request raw (headers and a
 * Content-Length body), answers it, and prints on stdout, per connection, the exact bytes it
 * received and sent, so a test can compare them with what the agent captured:
 * {@code port N}, then {@code conn <remote> received <base64>} and {@code conn <remote> sent <base64>}.
 * It stops at the end of stdin.
 *
 * <p>Arguments: certificate file, private key file (PEM), and optionally {@code jdk}: netty's
 * JDK provider (the JDK's own TLS, JSSE) instead of netty-tcnative, or {@code conscrypt}: netty's
 * JDK provider with Conscrypt's JSSE provider (Conscrypt on the class path).
 */
public final class NettyHttpsServer {
    private NettyHttpsServer() {
    }

    public static void main(String[] args) throws Exception {
        boolean conscrypt = args.length > 2 && args[2].equals("conscrypt");
        boolean jdk = conscrypt || args.length > 2 && args[2].equals("jdk");
        if (!jdk && !OpenSsl.isAvailable()) {
            System.err.println("netty-tcnative did not load: " + OpenSsl.unavailabilityCause());
            System.exit(2);
        }
        SslContextBuilder builder = SslContextBuilder.forServer(new File(args[0]), new File(args[1]))
                .sslProvider(jdk ? SslProvider.JDK : SslProvider.OPENSSL);
        if (conscrypt) {
            builder.sslContextProvider((java.security.Provider) Class.forName("org.conscrypt.Conscrypt")
                    .getMethod("newProvider").invoke(null));
        }
        SslContext ssl = builder.build();
        EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, NioIoHandler.newFactory());
        try {
            Channel server = new ServerBootstrap().group(group).channel(NioServerSocketChannel.class)
                    .childHandler(new ChannelInitializer<SocketChannel>() {
                        @Override
                        protected void initChannel(SocketChannel ch) {
                            ch.pipeline().addLast(ssl.newHandler(ch.alloc()), new RawHttp());
                        }
                    }).bind("127.0.0.1", 0).sync().channel();
            System.out.println("port " + ((java.net.InetSocketAddress) server.localAddress()).getPort());
            System.out.println("tls " + (jdk ? "jdk" : OpenSsl.versionString()));
            System.out.flush();
            BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
            while (in.readLine() != null) {
                // runs until stdin ends
            }
            server.close().sync();
        } finally {
            group.shutdownGracefully(0, 1, java.util.concurrent.TimeUnit.SECONDS).sync();
        }
    }

    /** The response to a request whose body is {@code body}: different bodies, different responses. */
    public static byte[] response(byte[] body) {
        byte[] content = ("got " + body.length + " bytes: " + new String(body, StandardCharsets.ISO_8859_1) + "\n")
                .getBytes(StandardCharsets.ISO_8859_1);
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        b.writeBytes(("HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: " + content.length
                + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
        b.writeBytes(content);
        return b.toByteArray();
    }

    /** Collects one request (headers, then Content-Length bytes), answers it and closes. */
    private static final class RawHttp extends ChannelInboundHandlerAdapter {
        private final ByteArrayOutputStream received = new ByteArrayOutputStream();
        private boolean answered;

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf buf = (ByteBuf) msg;
            try {
                byte[] b = new byte[buf.readableBytes()];
                buf.readBytes(b);
                received.writeBytes(b);
            } finally {
                buf.release();
            }
            byte[] all = received.toByteArray();
            String text = new String(all, StandardCharsets.ISO_8859_1);
            int end = text.indexOf("\r\n\r\n");
            if (answered || end < 0) {
                return;
            }
            java.util.regex.Matcher m = java.util.regex.Pattern.compile("(?im)^content-length:\\s*(\\d+)")
                    .matcher(text.substring(0, end));
            int length = m.find() ? Integer.parseInt(m.group(1)) : 0;
            if (all.length < end + 4 + length) {
                return;
            }
            answered = true;
            byte[] body = java.util.Arrays.copyOfRange(all, end + 4, end + 4 + length);
            byte[] response = response(body);
            String conn = String.valueOf(ctx.channel().remoteAddress());
            synchronized (System.out) {
                System.out.println("conn " + conn + " received " + Base64.getEncoder().encodeToString(all));
                System.out.println("conn " + conn + " sent " + Base64.getEncoder().encodeToString(response));
                System.out.flush();
            }
            ctx.writeAndFlush(Unpooled.wrappedBuffer(response)).addListener(ChannelFutureListener.CLOSE);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            System.err.println("connection failed: " + cause);
            ctx.close();
        }
    }
}
