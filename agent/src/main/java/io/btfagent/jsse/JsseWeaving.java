package io.btfagent.jsse;

import static net.bytebuddy.matcher.ElementMatchers.named;
import static net.bytebuddy.matcher.ElementMatchers.takesArguments;

import io.btfagent.bootstrap.JsseBridge;
import io.btfagent.instrument.BootstrapClasses;
import java.lang.instrument.ClassFileTransformer;
import java.lang.instrument.Instrumentation;
import java.nio.ByteBuffer;
import java.security.ProtectionDomain;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Consumer;
import net.bytebuddy.ByteBuddy;
import net.bytebuddy.asm.Advice;
import net.bytebuddy.description.method.MethodDescription;
import net.bytebuddy.description.type.TypeDescription;
import net.bytebuddy.dynamic.ClassFileLocator;
import net.bytebuddy.dynamic.DynamicType;
import net.bytebuddy.dynamic.scaffold.TypeValidation;
import net.bytebuddy.implementation.Implementation;
import net.bytebuddy.matcher.ElementMatcher;
import net.bytebuddy.pool.TypePool;

/**
 * Weaves the JDK's own TLS implementation (JSSE, {@code sun.security.ssl}) so the plaintext its
 * engines and sockets move reaches {@link JsseCapture}: {@code SSLEngineImpl}'s six-argument
 * {@code wrap} and {@code unwrap} (every other overload ends there) and the application streams
 * of {@code SSLSocketImpl}; and, for the addresses of the JDK HttpClient's engines, its TLS
 * connections' {@code finishConnect}. The same for the other JSSE providers the agent knows,
 * in whatever loader they are: Conscrypt (whose BoringSSL no uprobe can find) and
 * BouncyCastle's JSSE provider. The JDK's classes are in java.base and usually loaded before the
 * agent, so they are retransformed (a provider's too, when loaded before an attach); only the
 * methods' code changes. A class whose methods or fields differ from what the agent knows
 * (another JDK or provider version) is left as it is, named in one line.
 *
 * <p>Only these classes are woven: an engine backed by a native library the probes already
 * capture (netty's OpenSSL engine, Tomcat's and wildfly-openssl's) is another class and is never
 * captured twice.
 */
public final class JsseWeaving implements ClassFileTransformer {
    static final String ENGINE = "sun.security.ssl.SSLEngineImpl";
    static final String INPUT = "sun.security.ssl.SSLSocketImpl$AppInputStream";
    static final String OUTPUT = "sun.security.ssl.SSLSocketImpl$AppOutputStream";
    static final String HTTP_CLIENT = "jdk.internal.net.http.AsyncSSLConnection";
    static final String HTTP_CLIENT_TUNNEL = "jdk.internal.net.http.AsyncSSLTunnelConnection";
    static final String CONSCRYPT = "org.conscrypt.";
    static final String BOUNCYCASTLE = "org.bouncycastle.jsse.provider.";

    /** One method woven with one advice; the method must exist exactly once. */
    private record Weave(Class<?> advice, ElementMatcher<? super MethodDescription> on, String what) {
    }

    private final Map<String, List<Weave>> weaves;
    private final Consumer<String> problem;
    private final Set<String> woven = ConcurrentHashMap.newKeySet();
    private Instrumentation inst;

    private JsseWeaving(Map<String, List<Weave>> weaves, Consumer<String> problem) {
        this.weaves = weaves;
        this.problem = problem;
    }

    /**
     * Stops the capture (detach): the woven code stays and calls nothing, and this transformer
     * is removed, so that a later attach weaves the JDK's classes once, not twice.
     */
    public void stop() {
        JsseBridge.install(null);
        if (inst != null) {
            inst.removeTransformer(this);
        }
    }

    /**
     * Installs the weaving and retransforms the classes already loaded. {@link BootstrapClasses#inject}
     * must have put {@link JsseBridge} into the bootstrap loader first.
     *
     * @param problem told one line per class that is left alone
     */
    public static JsseWeaving install(Instrumentation inst, JsseCapture capture, Consumer<String> problem) {
        ElementMatcher.Junction<MethodDescription> six = takesArguments(ByteBuffer[].class, int.class, int.class,
                ByteBuffer[].class, int.class, int.class);
        ElementMatcher.Junction<MethodDescription> gather = takesArguments(ByteBuffer[].class, int.class, int.class,
                ByteBuffer.class);
        ElementMatcher.Junction<MethodDescription> scatter = takesArguments(ByteBuffer.class, ByteBuffer[].class,
                int.class, int.class);
        ElementMatcher.Junction<MethodDescription> bytes = takesArguments(byte[].class, int.class, int.class);
        Weave wrap6 = new Weave(JsseAdvices.EngineWrap.class, named("wrap").and(six),
                "wrap(ByteBuffer[],int,int,ByteBuffer[],int,int)");
        Weave wrap4 = new Weave(JsseAdvices.EngineWrap.class, named("wrap").and(gather),
                "wrap(ByteBuffer[],int,int,ByteBuffer)");
        Weave unwrap6 = new Weave(JsseAdvices.EngineUnwrap.class, named("unwrap").and(six),
                "unwrap(ByteBuffer[],int,int,ByteBuffer[],int,int)");
        Weave unwrap4 = new Weave(JsseAdvices.EngineUnwrapInto.class, named("unwrap").and(scatter),
                "unwrap(ByteBuffer,ByteBuffer[],int,int)");
        Weave read = new Weave(JsseAdvices.StreamRead.class, named("read").and(bytes), "read(byte[],int,int)");
        Weave readByte = new Weave(JsseAdvices.StreamReadByte.class, named("read").and(takesArguments(0)), "read()");
        Weave write = new Weave(JsseAdvices.StreamWrite.class, named("write").and(bytes), "write(byte[],int,int)");
        Weave finishConnect = new Weave(JsseAdvices.HttpClientConnect.class,
                named("finishConnect").and(takesArguments(0)), "finishConnect()");
        JsseWeaving w = new JsseWeaving(Map.ofEntries(
                Map.entry(ENGINE, List.of(wrap6, unwrap6)),
                Map.entry(INPUT, List.of(read)),
                Map.entry(OUTPUT, List.of(write)),
                Map.entry(HTTP_CLIENT, List.of(finishConnect)),
                Map.entry(HTTP_CLIENT_TUNNEL, List.of(finishConnect)),
                // Conscrypt: its engine (every wrap and unwrap ends in these two) and its engine
                // socket's streams (their engine is left out: JsseConnections), whose writes all
                // end in writeInternal. Its file descriptor sockets (off by default) are not:
                // 2.5.2's fail their handshake on JDK 17 and later, so no test could hold them.
                Map.entry(CONSCRYPT + "ConscryptEngine", List.of(wrap4, unwrap6)),
                Map.entry(CONSCRYPT + "ConscryptEngineSocket$SSLInputStream", List.of(read)),
                Map.entry(CONSCRYPT + "ConscryptEngineSocket$SSLOutputStream", List.of(new Weave(
                        JsseAdvices.StreamWriteBuffer.class, named("writeInternal").and(takesArguments(ByteBuffer.class)),
                        "writeInternal(ByteBuffer)"))),
                // BouncyCastle: its engine and its two sockets' streams, whose read() reads a byte
                // itself (their write(int) goes through write(b, off, len))
                Map.entry(BOUNCYCASTLE + "ProvSSLEngine", List.of(wrap4, unwrap4)),
                Map.entry(BOUNCYCASTLE + "ProvSSLSocketDirect$AppDataInput", List.of(read, readByte)),
                Map.entry(BOUNCYCASTLE + "ProvSSLSocketDirect$AppDataOutput", List.of(write)),
                Map.entry(BOUNCYCASTLE + "ProvSSLSocketWrap$AppDataInput", List.of(read, readByte)),
                Map.entry(BOUNCYCASTLE + "ProvSSLSocketWrap$AppDataOutput", List.of(write))),
                problem);
        JsseBridge.install(capture);
        // the woven java.base code calls the bridge, in the bootstrap loader's unnamed module
        Module bridge = JsseBridge.class.getModule();
        inst.redefineModule(Object.class.getModule(), Set.of(bridge), Map.of(), Map.of(), Set.of(), Map.of());
        // the HttpClient's connections: their channel() is read by reflection from the agent
        ModuleLayer.boot().findModule("java.net.http").ifPresent(http -> inst.redefineModule(http, Set.of(bridge),
                Map.of(), Map.of("jdk.internal.net.http", Set.of(JsseWeaving.class.getModule())), Set.of(), Map.of()));
        w.inst = inst;
        inst.addTransformer(w, true);
        List<Class<?>> loaded = new ArrayList<>();
        for (Class<?> c : inst.getAllLoadedClasses()) {
            if (w.weaves.containsKey(c.getName()) && inst.isModifiableClass(c)) {
                loaded.add(c);
            }
        }
        for (Class<?> c : loaded) {
            try {
                inst.retransformClasses(c);
            } catch (Throwable t) {
                problem.accept("jsse: cannot retransform " + c.getName() + " (" + t + "); its TLS is not captured");
            }
        }
        return w;
    }

    @Override
    public byte[] transform(ClassLoader loader, String internalName, Class<?> redefined, ProtectionDomain domain,
            byte[] classfile) {
        if (internalName == null) {
            return null;
        }
        boolean jdk = internalName.startsWith("sun/security/ssl/SSL")
                || internalName.startsWith("jdk/internal/net/http/AsyncSSL");
        if (!jdk && !internalName.startsWith("org/conscrypt/Conscrypt")
                && !internalName.startsWith("org/bouncycastle/jsse/provider/ProvSSL")) {
            return null;
        }
        if (jdk && loader != null && loader != ClassLoader.getPlatformClassLoader()) {
            return null; // the JDK's own classes only
        }
        String name = internalName.replace('/', '.');
        List<Weave> ws = weaves.get(name);
        if (ws == null) {
            return null;
        }
        try {
            ClassFileLocator locator = new ClassFileLocator.Compound(ClassFileLocator.Simple.of(name, classfile),
                    loader == null ? ClassFileLocator.ForClassLoader.ofBootLoader()
                            : ClassFileLocator.ForClassLoader.of(loader), BootstrapClasses.agentClasses());
            TypeDescription type = TypePool.Default.of(locator).describe(name).resolve();
            boolean stream = ws.stream().anyMatch(w -> w.advice() == JsseAdvices.StreamRead.class
                    || w.advice() == JsseAdvices.StreamWrite.class || w.advice() == JsseAdvices.StreamWriteBuffer.class);
            if (stream && type.getDeclaredFields().filter(named("this$0")).size() != 1) {
                throw new IllegalStateException("no field this$0");
            }
            DynamicType.Builder<?> b = new ByteBuddy()
                    .with(TypeValidation.DISABLED)
                    .with(Implementation.Context.Disabled.Factory.INSTANCE)
                    .redefine(type, locator);
            for (Weave w : ws) {
                if (type.getDeclaredMethods().filter(w.on()).size() != 1) {
                    throw new IllegalStateException("no method " + w.what());
                }
                b = b.visit(Advice.to(TypeDescription.ForLoadedType.of(w.advice()), BootstrapClasses.agentClasses())
                        .on(w.on()));
            }
            byte[] out = b.make().getBytes();
            woven.add(name);
            return out;
        } catch (Throwable t) {
            problem.accept("jsse: " + name + (jdk ? " of Java " + System.getProperty("java.version") : "")
                    + " has not the shape the agent knows (" + t.getMessage() + "); left alone, "
                    + (name.startsWith("jdk.") ? "its connections are captured without addresses"
                            : "its TLS is not captured"));
            return null;
        }
    }

    /** The classes woven so far (for doctor and the tests' logs). */
    public Set<String> woven() {
        return Set.copyOf(woven);
    }
}
