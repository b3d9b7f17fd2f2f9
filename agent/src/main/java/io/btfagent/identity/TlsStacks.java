package io.btfagent.identity;

import static net.bytebuddy.matcher.ElementMatchers.isAbstract;
import static net.bytebuddy.matcher.ElementMatchers.named;
import static net.bytebuddy.matcher.ElementMatchers.not;
import static net.bytebuddy.matcher.ElementMatchers.takesArguments;

import io.btfagent.bootstrap.ConnectionBridge;
import io.btfagent.instrument.BootstrapClasses;
import java.lang.instrument.ClassFileTransformer;
import java.lang.instrument.Instrumentation;
import java.security.ProtectionDomain;
import java.util.ArrayList;
import java.util.List;
import java.util.function.BiConsumer;
import java.util.function.Predicate;
import net.bytebuddy.ByteBuddy;
import net.bytebuddy.asm.Advice;
import net.bytebuddy.asm.AsmVisitorWrapper;
import net.bytebuddy.description.method.MethodDescription;
import net.bytebuddy.description.type.TypeDescription;
import net.bytebuddy.dynamic.ClassFileLocator;
import net.bytebuddy.dynamic.DynamicType;
import net.bytebuddy.dynamic.scaffold.TypeValidation;
import net.bytebuddy.implementation.Implementation;
import net.bytebuddy.matcher.ElementMatcher;
import net.bytebuddy.pool.TypePool;

/**
 * Weaves the JVM's native TLS stacks so the agent learns, for each TLS object, its connection
 * and role, and for each thread that drives one, its Java name: wildfly-openssl
 * ({@code OpenSSLEngine}, {@code OpenSSLSocket}), Tomcat's OpenSSL engines (FFM and JNI) on its
 * NIO connector, and netty's OpenSSL engine with its {@code SslHandler}, in any relocated copy
 * (e.g. gRPC's {@code io.grpc.netty.shaded.io.netty}); and, for the addresses of the JSSE
 * engines they drive, Kafka's {@code SslTransportLayer} and Jetty's {@code SslConnection}.
 *
 * <p>Classes are matched by name as they are loaded, so the agent never loads them itself;
 * those already loaded are retransformed. Advice is inlined and only the methods' code changes
 * (no members are added), so retransformation is always allowed. byte-buddy is used as a
 * class-file rewriter only: its agent builder would touch {@code sun.misc.Unsafe} at start-up,
 * which JDK 24+ reports on the application's stderr. A class whose shape differs from what the
 * agent knows is left as it is, reported in one line for its stack.
 */
public final class TlsStacks implements ClassFileTransformer {
    private final JvmConnections connections;
    private final List<Rule> rules;

    /** The classes a rule applies to, and which advice goes on which of their methods. */
    private record Rule(Predicate<String> type, List<Weave> weaves) {
    }

    private record Weave(AsmVisitorWrapper advice) {
    }

    /** Receives the socket or channel a woven stack drives a non-native (JSSE) engine over. */
    public interface EngineAddresses {
        void report(javax.net.ssl.SSLEngine engine, java.net.SocketAddress local, java.net.SocketAddress remote);
    }

    /** Where the addresses of JSSE engines driven by the woven stacks go (JSSE capture). */
    public static void jsseAddresses(EngineAddresses to) {
        JvmConnections.jsse = to;
    }

    private TlsStacks(JvmConnections connections, List<Rule> rules) {
        this.connections = connections;
        this.rules = rules;
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
        ClassFileLocator agent = BootstrapClasses.agentClasses();
        ElementMatcher.Junction<MethodDescription> wrapUnwrap =
                named("wrap").or(named("unwrap")).and(not(isAbstract()));
        List<Rule> rules = List.of(
                new Rule(n -> n.equals("org.wildfly.openssl.OpenSSLEngine"), List.of(
                        weave(Advices.EngineCall.class, agent, wrapUnwrap),
                        weave(Advices.WildflyInitSsl.class, agent, named("initSsl").and(takesArguments(0))))),
                new Rule(n -> n.equals("org.wildfly.openssl.OpenSSLSocket"), List.of(
                        weave(Advices.WildflyRunHandshake.class, agent, named("runHandshake").and(takesArguments(0))))),
                new Rule(n -> n.equals("org.apache.tomcat.util.net.openssl.panama.OpenSSLEngine")
                        || n.equals("org.apache.tomcat.util.net.openssl.OpenSSLEngine")
                        || n.endsWith("io.netty.handler.ssl.ReferenceCountedOpenSslEngine"), List.of(
                        weave(Advices.EngineCall.class, agent, wrapUnwrap))),
                new Rule(n -> n.equals("org.apache.tomcat.util.net.SecureNioChannel"), List.of(
                        weave(Advices.TomcatHandshake.class, agent, named("handshake").and(takesArguments(2))))),
                new Rule(n -> n.equals(JvmConnections.KAFKA_TRANSPORT), List.of(
                        weave(Advices.ConnectedEnter.class, agent, named("handshake").and(takesArguments(0))))),
                new Rule(n -> n.equals(JvmConnections.JETTY_CONNECTION), List.of(
                        weave(Advices.ConnectedEnter.class, agent, named("onOpen").and(takesArguments(0))))),
                new Rule(n -> n.endsWith("io.netty.handler.ssl.SslHandler"), List.of(
                        weave(Advices.HandlerActive.class, agent,
                                named("handlerAdded").or(named("channelActive")).and(takesArguments(1))))));
        TlsStacks stacks = new TlsStacks(connections, rules);
        inst.addTransformer(stacks, true);
        List<Class<?>> loaded = new ArrayList<>();
        for (Class<?> c : inst.getAllLoadedClasses()) {
            if (stacks.rule(c.getName()) != null && inst.isModifiableClass(c)) {
                loaded.add(c);
            }
        }
        for (Class<?> c : loaded) {
            try {
                inst.retransformClasses(c);
            } catch (Throwable t) {
                connections.fail(stackOf(c.getName()), "cannot retransform " + c.getName() + ": " + t);
            }
        }
        return stacks;
    }

    private static Weave weave(Class<?> advice, ClassFileLocator agent, ElementMatcher<? super MethodDescription> on) {
        return new Weave(Advice.to(TypeDescription.ForLoadedType.of(advice), agent).on(on));
    }

    private Rule rule(String name) {
        for (Rule r : rules) {
            if (r.type().test(name)) {
                return r;
            }
        }
        return null;
    }

    @Override
    public byte[] transform(ClassLoader loader, String internalName, Class<?> redefined, ProtectionDomain domain,
            byte[] classfile) {
        if (internalName == null) {
            return null;
        }
        String name = internalName.replace('/', '.');
        Rule r = rule(name);
        if (r == null) {
            return null;
        }
        String stack = stackOf(name);
        if (connections.failed(stack)) {
            return null;
        }
        try {
            ClassFileLocator locator = new ClassFileLocator.Compound(ClassFileLocator.Simple.of(name, classfile),
                    loader == null ? ClassFileLocator.ForClassLoader.ofBootLoader()
                            : ClassFileLocator.ForClassLoader.of(loader));
            TypeDescription type = TypePool.Default.of(locator).describe(name).resolve();
            DynamicType.Builder<?> b = new ByteBuddy()
                    .with(TypeValidation.DISABLED)
                    .with(Implementation.Context.Disabled.Factory.INSTANCE)
                    .redefine(type, locator);
            for (Weave w : r.weaves()) {
                b = b.visit(w.advice());
            }
            return b.make().getBytes();
        } catch (Throwable t) {
            connections.fail(stack, "cannot weave " + name + ": " + t);
            return null;
        }
    }

    static String stackOf(String typeName) {
        return JvmConnections.stackOf(typeName);
    }

    /**
     * One line for the capture summary: how often a TLS object was joined to its connection and
     * at what cost (a holder class's first join, which also looks its members up, apart).
     */
    public String summary() {
        long n = connections.joins();
        long first = connections.firstJoins();
        return String.format("identity: %d joins (%.1f us each; %d first of their class, %.1f us each), "
                + "%d threads named", n, n == 0 ? 0.0 : connections.joinNanos() / 1000.0 / n, first,
                first == 0 ? 0.0 : connections.firstJoinNanos() / 1000.0 / first, connections.threadsNamed());
    }
}
