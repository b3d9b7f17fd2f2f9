package io.btfagent.grpc;

import io.grpc.CallOptions;
import io.grpc.Grpc;
import io.grpc.ManagedChannel;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.ServerServiceDefinition;
import io.grpc.TlsChannelCredentials;
import io.grpc.TlsServerCredentials;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.ServerCalls;
import java.io.BufferedReader;
import java.io.ByteArrayInputStream;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.util.Base64;
import java.util.concurrent.TimeUnit;

/**
 * One gRPC unary call over TLS, client and server in this JVM, both on grpc-netty-shaded, whose
 * shaded netty-tcnative BoringSSL loads when the first TLS context is built (after the JVM has
 * started). Messages are raw bytes (no protobuf). Prints {@code request <base64>} and
 * {@code response <base64>} (the message payloads) on stdout.
 *
 * <p>Arguments: certificate file, private key file (PEM, for 127.0.0.1 / localhost), request
 * text. With {@code -Ddemo.await-go} containing {@code traffic} it reads a line from stdin after
 * the TLS library is loaded and before the call.
 */
public final class GrpcTlsUnary {
    private GrpcTlsUnary() {
    }

    static final MethodDescriptor.Marshaller<byte[]> BYTES = new MethodDescriptor.Marshaller<>() {
        @Override
        public InputStream stream(byte[] value) {
            return new ByteArrayInputStream(value);
        }

        @Override
        public byte[] parse(InputStream stream) {
            try {
                return stream.readAllBytes();
            } catch (IOException e) {
                throw new IllegalStateException(e);
            }
        }
    };

    static final MethodDescriptor<byte[], byte[]> SAY = MethodDescriptor.<byte[], byte[]>newBuilder()
            .setType(MethodDescriptor.MethodType.UNARY)
            .setFullMethodName("btfagent.Echo/Say")
            .setRequestMarshaller(BYTES).setResponseMarshaller(BYTES).build();

    /** What the server answers to {@code request}. */
    public static byte[] answer(byte[] request) {
        return ("echo: " + new String(request, StandardCharsets.UTF_8)).getBytes(StandardCharsets.UTF_8);
    }

    public static void main(String[] args) throws Exception {
        File cert = new File(args[0]);
        File key = new File(args[1]);
        byte[] request = args[2].getBytes(StandardCharsets.UTF_8);
        ServerServiceDefinition service = ServerServiceDefinition.builder("btfagent.Echo")
                .addMethod(SAY, ServerCalls.asyncUnaryCall((req, out) -> {
                    out.onNext(answer(req));
                    out.onCompleted();
                })).build();
        Server server = Grpc.newServerBuilderForPort(0, TlsServerCredentials.create(cert, key))
                .addService(service).build().start();
        ManagedChannel channel = Grpc.newChannelBuilderForAddress("127.0.0.1", server.getPort(),
                TlsChannelCredentials.newBuilder().trustManager(cert).build())
                .overrideAuthority("localhost").build();
        try {
            if (System.getProperty("demo.await-go", "").contains("traffic")) {
                System.out.println("ready for the call");
                System.out.flush();
                new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)).readLine();
            }
            byte[] response = ClientCalls.blockingUnaryCall(channel, SAY, CallOptions.DEFAULT, request);
            System.out.println("request " + Base64.getEncoder().encodeToString(request));
            System.out.println("response " + Base64.getEncoder().encodeToString(response));
        } finally {
            channel.shutdown().awaitTermination(5, TimeUnit.SECONDS);
            server.shutdown().awaitTermination(5, TimeUnit.SECONDS);
        }
    }
}
