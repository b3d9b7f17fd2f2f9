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
 * the TLS library is loaded and before the call. With a fourth argument {@code httpclient} the
 * call is made by the JDK's {@code java.net.http.HttpClient} over HTTP/2 (gRPC's framing by hand)
 * instead of the gRPC client.
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
            byte[] response = args.length > 3 && args[3].equals("httpclient") ? viaHttpClient(cert, server.getPort(),
                    request) : ClientCalls.blockingUnaryCall(channel, SAY, CallOptions.DEFAULT, request);
            System.out.println("request " + Base64.getEncoder().encodeToString(request));
            System.out.println("response " + Base64.getEncoder().encodeToString(response));
        } finally {
            channel.shutdown().awaitTermination(5, TimeUnit.SECONDS);
            server.shutdown().awaitTermination(5, TimeUnit.SECONDS);
        }
    }

    /** The unary call as an HTTP/2 POST of the JDK's HttpClient, trusting {@code cert}; returns the response message. */
    static byte[] viaHttpClient(File cert, int port, byte[] request) throws Exception {
        java.security.KeyStore trust = java.security.KeyStore.getInstance("PKCS12");
        trust.load(null, null);
        try (InputStream in = new java.io.FileInputStream(cert)) {
            trust.setCertificateEntry("server", java.security.cert.CertificateFactory.getInstance("X.509")
                    .generateCertificate(in));
        }
        javax.net.ssl.TrustManagerFactory tmf = javax.net.ssl.TrustManagerFactory.getInstance(
                javax.net.ssl.TrustManagerFactory.getDefaultAlgorithm());
        tmf.init(trust);
        javax.net.ssl.SSLContext ssl = javax.net.ssl.SSLContext.getInstance("TLS");
        ssl.init(null, tmf.getTrustManagers(), null);
        java.net.http.HttpClient client = java.net.http.HttpClient.newBuilder().sslContext(ssl)
                .version(java.net.http.HttpClient.Version.HTTP_2).build();
        // a gRPC message: not compressed (0), its length (big-endian), the bytes
        java.nio.ByteBuffer framed = java.nio.ByteBuffer.allocate(5 + request.length);
        framed.put((byte) 0).putInt(request.length).put(request);
        java.net.http.HttpResponse<byte[]> r = client.send(java.net.http.HttpRequest.newBuilder(
                java.net.URI.create("https://127.0.0.1:" + port + "/" + SAY.getFullMethodName()))
                .header("Content-Type", "application/grpc").header("TE", "trailers")
                .POST(java.net.http.HttpRequest.BodyPublishers.ofByteArray(framed.array())).build(),
                java.net.http.HttpResponse.BodyHandlers.ofByteArray());
        if (r.version() != java.net.http.HttpClient.Version.HTTP_2 || r.body().length < 5) {
            throw new IllegalStateException("not an HTTP/2 gRPC answer: " + r.version() + " " + r.statusCode());
        }
        return java.util.Arrays.copyOfRange(r.body(), 5, r.body().length);
    }
}
