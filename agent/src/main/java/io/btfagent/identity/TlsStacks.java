package io.btfagent.identity;

import static net.bytebuddy.matcher.ElementMatchers.isAbstract;
import static net.bytebuddy.matcher.ElementMatchers.nameEndsWith;
import static net.bytebuddy.matcher.ElementMatchers.nameStartsWith;
import static net.bytebuddy.matcher.ElementMatchers.named;
import static net.bytebuddy.matcher.ElementMatchers.not;
import static net.bytebuddy.matcher.ElementMatchers.takesArguments;

import io.btfagent.bootstrap.ConnectionBridge;
import java.lang.instrument.Instrumentation;
import java.util.function.BiConsumer;
import net.bytebuddy.agent.builder.AgentBuilder;
import net.bytebuddy.asm.Advice;
import net.bytebuddy.asm.AsmVisitorWrapper;
import net.bytebuddy.description.method.MethodDescription;
import net.bytebuddy.description.type.TypeDescription;
import net.bytebuddy.dynamic.ClassFileLocator;
import net.bytebuddy.matcher.ElementMatcher;
import net.bytebuddy.utility.JavaModule;

/**
 * Weaves the JVM's native TLS stacks so the agent learns, for each TLS object, its connection
 * and role, and for each thread that drives one, its Java name: wildfly-openssl
 * ({@code OpenSSLEngine}, {@code OpenSSLSocket}), Tomcat's OpenSSL engines (FFM and JNI) on its
 * NIO connector, and netty's OpenSSL engine with its {@code SslHandler}, in any relocated copy
 * (e.g. gRPC's {@code io.grpc.netty.shaded.io.netty}). Classes are matched by name, so the agent
 * never loads them; those already loaded are retransformed. A class whose shape differs from
 * what the agent knows is left as it is, reported in one line for its stack.
 */
public final class TlsStacks {
    private final JvmConnections connections;

    private TlsStacks(JvmConnections connections) {
        this.connections = connections;
    }

    /**
     * Installs the weaving. {@link BootstrapClasses#inject} must have put
     * {@link ConnectionBridge} into the bootstrap loader first.
     *
     * @param failure told (stack, reason) once per stack that cannot be given identity
     */
    public static TlsStacks install(Instrumentation inst, PeerMap peers, BiConsumer<String, String> failure) {
        JvmConnections connections = new JvmConnections(peers, failure);
        ConnectionBridge.install(connections);
        ClassFileLocator locator = BootstrapClasses.agentClasses();
        ElementMatcher.Junction<MethodDescription> wrapUnwrap =
                named("wrap").or(named("unwrap")).and(not(isAbstract()));
        new AgentBuilder.Default()
                .disableClassFormatChanges()
                .with(AgentBuilder.RedefinitionStrategy.RETRANSFORMATION)
                .with(AgentBuilder.DescriptionStrategy.Default.POOL_ONLY)
                .with(new AgentBuilder.Listener.Adapter() {
                    @Override
                    public void onError(String typeName, ClassLoader classLoader, JavaModule module, boolean loaded,
                            Throwable throwable) {
                        connections.fail(stackOf(typeName), "cannot weave " + typeName + ": " + throwable);
                    }
                })
                .ignore(nameStartsWith("net.bytebuddy.").or(nameStartsWith("io.btfagent.")))
                .type(named("org.wildfly.openssl.OpenSSLEngine"))
                .transform((b, type, loader, module, domain) -> b
                        .visit(advice(Advices.EngineCall.class, locator, wrapUnwrap))
                        .visit(advice(Advices.WildflyInitSsl.class, locator, named("initSsl").and(takesArguments(0)))))
                .type(named("org.wildfly.openssl.OpenSSLSocket"))
                .transform((b, type, loader, module, domain) -> b
                        .visit(advice(Advices.HolderAround.class, locator, named("runHandshake").and(takesArguments(0)))))
                .type(named("org.apache.tomcat.util.net.openssl.panama.OpenSSLEngine")
                        .or(named("org.apache.tomcat.util.net.openssl.OpenSSLEngine"))
                        .or(nameEndsWith("io.netty.handler.ssl.ReferenceCountedOpenSslEngine")))
                .transform((b, type, loader, module, domain) -> b
                        .visit(advice(Advices.EngineCall.class, locator, wrapUnwrap)))
                .type(named("org.apache.tomcat.util.net.SecureNioChannel"))
                .transform((b, type, loader, module, domain) -> b
                        .visit(advice(Advices.TomcatHandshake.class, locator, named("handshake").and(takesArguments(2)))))
                .type(nameEndsWith("io.netty.handler.ssl.SslHandler"))
                .transform((b, type, loader, module, domain) -> b
                        .visit(advice(Advices.HandlerActive.class, locator,
                                named("handlerAdded").or(named("channelActive")).and(takesArguments(1)))))
                .installOn(inst);
        return new TlsStacks(connections);
    }

    private static AsmVisitorWrapper advice(Class<?> advice, ClassFileLocator locator,
            ElementMatcher<? super MethodDescription> on) {
        return Advice.to(TypeDescription.ForLoadedType.of(advice), locator).on(on);
    }

    static String stackOf(String typeName) {
        return typeName.startsWith("org.wildfly.openssl.") ? JvmConnections.WILDFLY
                : typeName.startsWith("org.apache.tomcat.") ? JvmConnections.TOMCAT : JvmConnections.NETTY;
    }

    /** One line for the capture summary: how many connections were joined, at what cost. */
    public String summary() {
        long n = connections.joins();
        return String.format("identity: %d connections joined (%.1f us each), %d threads named", n,
                n == 0 ? 0.0 : connections.joinNanos() / 1000.0 / n, connections.threadsNamed());
    }
}
