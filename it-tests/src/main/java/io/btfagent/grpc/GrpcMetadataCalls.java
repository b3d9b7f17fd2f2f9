package io.btfagent.grpc;

import io.grpc.CallOptions;
import io.grpc.Channel;
import io.grpc.ClientInterceptors;
import io.grpc.Contexts;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.ServerServiceDefinition;
import io.grpc.TlsChannelCredentials;
import io.grpc.TlsServerCredentials;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.MetadataUtils;
import io.grpc.stub.ServerCalls;
import java.io.BufferedReader;
import java.io.File;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.TimeUnit;

/**
 * gRPC calls over TLS (grpc-netty-shaded) that carry credentials as call metadata:
 * {@code authorization: Bearer <token>} and {@code x-api-key: <key>}, three calls on one
 * channel, the third with other values (a new literal whose name netty's encoder takes from
 * its dynamic table).
 *
 * <p>{@code server <cert> <key>}: serves the echo method, prints {@code port <n>}, and stops
 * when stdin ends; the answer names the credentials' lengths it received.
 * {@code client <cert> <port> <token1> <key1> <token2> <key2>}: with {@code -Ddemo.await-go}
 * containing {@code traffic} it reads a line from stdin before the first call, and with
 * {@code more} another one between the first and the second call (the channel stays open), so
 * that a capture can begin in the middle of the connection. With {@code -Ddemo.big-header=<n>}
 * the second call also sends {@code x-padding} of n characters before the credentials, so that
 * its header block is larger than a frame (HEADERS, then CONTINUATION frames) and than a
 * captured record. Prints {@code response<i> <text>}.
 */
public final class GrpcMetadataCalls {
    static final Metadata.Key<String> AUTHORIZATION = Metadata.Key.of("authorization", Metadata.ASCII_STRING_MARSHALLER);
    static final Metadata.Key<String> API_KEY = Metadata.Key.of("x-api-key", Metadata.ASCII_STRING_MARSHALLER);
    static final Metadata.Key<String> PADDING = Metadata.Key.of("x-padding", Metadata.ASCII_STRING_MARSHALLER);

    private GrpcMetadataCalls() {
    }

    public static void main(String[] args) throws Exception {
        if (args[0].equals("server")) {
            server(new File(args[1]), new File(args[2]));
        } else {
            client(new File(args[1]), Integer.parseInt(args[2]), args[3], args[4], args[5], args[6]);
        }
    }

    /** What the server answers: the request and the lengths of the credentials it received. */
    public static String answer(String request, String token, String key) {
        return "echo: " + request + " authorization=" + token.length() + " x-api-key=" + key.length();
    }

    private static void server(File cert, File key) throws Exception {
        // the credentials reach the handler through the context
        io.grpc.Context.Key<Metadata> headers = io.grpc.Context.key("headers");
        ServerInterceptor keep = new ServerInterceptor() {
            @Override
            public <Q, R> io.grpc.ServerCall.Listener<Q> interceptCall(io.grpc.ServerCall<Q, R> call, Metadata h,
                    io.grpc.ServerCallHandler<Q, R> next) {
                return Contexts.interceptCall(io.grpc.Context.current().withValue(headers, h), call, h, next);
            }
        };
        ServerServiceDefinition service = ServerServiceDefinition.builder("btfagent.Echo")
                .addMethod(GrpcTlsUnary.SAY, ServerCalls.asyncUnaryCall((req, out) -> {
                    Metadata h = headers.get();
                    String token = String.valueOf(h.get(AUTHORIZATION));
                    String apiKey = String.valueOf(h.get(API_KEY));
                    out.onNext(answer(new String(req, StandardCharsets.UTF_8), token, apiKey)
                            .getBytes(StandardCharsets.UTF_8));
                    out.onCompleted();
                })).build();
        Server server = Grpc.newServerBuilderForPort(0, TlsServerCredentials.create(cert, key))
                .maxInboundMetadataSize(256 * 1024)
                .addService(ServerInterceptors.intercept(service, keep)).build().start();
        System.out.println("port " + server.getPort());
        System.out.flush();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        while (in.readLine() != null) {
            // until stdin ends
        }
        server.shutdown().awaitTermination(5, TimeUnit.SECONDS);
    }

    private static void client(File cert, int port, String token1, String key1, String token2, String key2)
            throws Exception {
        ManagedChannel channel = Grpc.newChannelBuilderForAddress("127.0.0.1", port,
                TlsChannelCredentials.newBuilder().trustManager(cert).build())
                .overrideAuthority("localhost").build();
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
        String phases = System.getProperty("demo.await-go", "");
        try {
            if (phases.contains("traffic")) {
                System.out.println("ready for the calls");
                System.out.flush();
                in.readLine();
            }
            call(channel, 1, "Bearer " + token1, key1, 0);
            if (phases.contains("more")) {
                System.out.println("channel open");
                System.out.flush();
                in.readLine();
            }
            call(channel, 2, "Bearer " + token1, key1, Integer.getInteger("demo.big-header", 0));
            call(channel, 3, "Bearer " + token2, key2, 0);
        } finally {
            channel.shutdown().awaitTermination(5, TimeUnit.SECONDS);
        }
    }

    private static void call(ManagedChannel channel, int i, String authorization, String apiKey, int padding) {
        Metadata m = new Metadata();
        if (padding > 0) {
            m.put(PADDING, "p".repeat(padding));
        }
        m.put(AUTHORIZATION, authorization);
        m.put(API_KEY, apiKey);
        Channel c = ClientInterceptors.intercept(channel, MetadataUtils.newAttachHeadersInterceptor(m));
        byte[] response = ClientCalls.blockingUnaryCall(c, GrpcTlsUnary.SAY, CallOptions.DEFAULT,
                ("call " + i).getBytes(StandardCharsets.UTF_8));
        System.out.println("response" + i + " " + new String(response, StandardCharsets.UTF_8));
        System.out.flush();
    }
}
