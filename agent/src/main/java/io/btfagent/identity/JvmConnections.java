package io.btfagent.identity;

import io.btfagent.event.OsThreads;
import io.btfagent.bootstrap.ConnectionBridge;
import io.btfagent.event.ThreadNames;
import java.lang.reflect.Field;
import java.lang.reflect.Method;
import java.net.Socket;
import java.net.SocketAddress;
import java.nio.channels.SocketChannel;
import java.util.Map;
import java.util.Set;
import java.util.WeakHashMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.BiConsumer;
import javax.net.ssl.SSLEngine;

/**
 * Receives what the woven TLS stacks report: which thread drives an engine (for Java thread
 * names) and which TLS object belongs to which connection (for role and addresses, written to
 * the kernel's peers map). Each stack's classes are read by the member names of the versions
 * the agent knows; a stack whose classes have another shape is reported once, in one line, and
 * left without identity, while capture goes on.
 */
final class JvmConnections implements ConnectionBridge.Listener {
    static final String WILDFLY = "wildfly-openssl";
    static final String TOMCAT = "Tomcat OpenSSL";
    static final String NETTY = "netty";
    static final String KAFKA = "Kafka";
    static final String JETTY = "Jetty";
    static final String KAFKA_TRANSPORT = "org.apache.kafka.common.network.SslTransportLayer";
    static final String JETTY_CONNECTION = "org.eclipse.jetty.io.ssl.SslConnection";

    /** The stack a woven class belongs to, as failures name it. */
    static String stackOf(String n) {
        return n.startsWith("org.wildfly.openssl.") ? WILDFLY
                : n.startsWith("org.apache.tomcat.") ? TOMCAT
                : n.startsWith("org.apache.kafka.") ? KAFKA
                : n.startsWith("org.eclipse.jetty.") ? JETTY : NETTY;
    }


    private final PeerMap peers;
    private final BiConsumer<String, String> failure;
    private final ThreadLocal<String> registeredName = new ThreadLocal<>();
    private final Set<String> failed = ConcurrentHashMap.newKeySet();
    /** wildfly sockets whose engine had no SSL* yet when the socket reported itself. */
    private final Map<Object, Socket> pendingSockets = new WeakHashMap<>();
    private final AtomicLong joins = new AtomicLong();
    private final AtomicLong joinNanos = new AtomicLong();
    /** Each kind of holder's first join also finds its members by reflection: counted apart. */
    private final AtomicLong firstJoins = new AtomicLong();
    private final AtomicLong firstJoinNanos = new AtomicLong();
    private final Set<Class<?>> warmed = ConcurrentHashMap.newKeySet();
    private final AtomicLong threads = new AtomicLong();

    private final ClassValue<Holder> holders = new ClassValue<>() {
        @Override
        protected Holder computeValue(Class<?> type) {
            return holderFor(type);
        }
    };
    private final ClassValue<EngineAccess> engines = new ClassValue<>() {
        @Override
        protected EngineAccess computeValue(Class<?> type) {
            return engineAccessFor(type);
        }
    };

    /**
     * @param failure told (stack, one-line reason) the first time a stack's classes do not have
     *     the shape the agent reads
     */
    JvmConnections(PeerMap peers, BiConsumer<String, String> failure) {
        this.peers = peers;
        this.failure = failure;
    }

    @Override
    public void engineCall() {
        Thread t = Thread.currentThread();
        String name = t.getName();
        if (name == registeredName.get()) {
            return;
        }
        registeredName.set(name);
        // a virtual thread runs on a carrier whose OS thread others share: its name would be wrong
        if (OsThreads.isVirtual(t)) {
            return;
        }
        int tid = OsThreads.currentTid();
        if (tid > 0) {
            ThreadNames.register(tid, name);
            threads.incrementAndGet();
        }
    }

    @Override
    public void connection(Object holder, Object context) {
        Holder h = holders.get(holder.getClass());
        if (h == null || failed.contains(h.stack())) {
            return;
        }
        long t0 = System.nanoTime();
        try {
            if (h.join(holder, context)) {
                long took = System.nanoTime() - t0;
                if (warmed.add(holder.getClass())) {
                    firstJoins.incrementAndGet();
                    firstJoinNanos.addAndGet(took);
                } else {
                    joins.incrementAndGet();
                    joinNanos.addAndGet(took);
                }
            }
        } catch (Exception | LinkageError e) {
            fail(h.stack(), holder.getClass().getName() + ": " + e);
        }
    }

    void fail(String stack, String reason) {
        if (failed.add(stack)) {
            failure.accept(stack, reason);
        }
    }

    boolean failed(String stack) {
        return failed.contains(stack);
    }

    /** Joins after the first of each holder class, their total time, the first ones, threads named. */
    long firstJoins() {
        return firstJoins.get();
    }

    long firstJoinNanos() {
        return firstJoinNanos.get();
    }

    long joins() {
        return joins.get();
    }

    long joinNanos() {
        return joinNanos.get();
    }

    long threadsNamed() {
        return threads.get();
    }

    /** How one kind of holder ties its TLS object to its connection. */
    private interface Holder {
        String stack();

        /** True if a TLS object was joined to its connection (or role) now. */
        boolean join(Object holder, Object context) throws Exception;
    }

    private Holder holderFor(Class<?> type) {
        for (Class<?> c = type; c != null; c = c.getSuperclass()) {
            String n = c.getName();
            String stack = stackOf(n);
            try {
                Holder h = holderOf(c, n);
                if (h != null) {
                    return h;
                }
            } catch (IllegalStateException shape) {
                return holder(stack, (h, ctx) -> {
                    throw shape;
                });
            }
        }
        return null;
    }

    private Holder holderOf(Class<?> c, String n) {
        if (n.equals("org.wildfly.openssl.OpenSSLSocket")) {
            Field engine = field(c, "sslEngine");
            return holder(WILDFLY, (h, ctx) -> wildflySocket((Socket) h, (SSLEngine) engine.get(h)));
        }
        if (n.equals("org.wildfly.openssl.OpenSSLEngine")) {
            return holder(WILDFLY, (h, ctx) -> wildflyEngine((SSLEngine) h));
        }
        if (n.equals("org.apache.tomcat.util.net.SecureNioChannel")) {
            Field engine = field(c, "sslEngine");
            Method io = method(c, "getIOChannel");
            return holder(TOMCAT, (h, ctx) -> {
                SSLEngine e = (SSLEngine) engine.get(h);
                SocketChannel ch = (SocketChannel) io.invoke(h);
                return e != null && ch != null && join(TOMCAT, e, ch.getLocalAddress(), ch.getRemoteAddress());
            });
        }
        if (n.equals(KAFKA_TRANSPORT)) {
            Field engine = field(c, "sslEngine");
            Method io = method(c, "socketChannel");
            return holder(KAFKA, (h, ctx) -> {
                SocketChannel ch = (SocketChannel) io.invoke(h);
                return ch != null && ch.isConnected()
                        && join(KAFKA, (SSLEngine) engine.get(h), ch.getLocalAddress(), ch.getRemoteAddress());
            });
        }
        if (n.equals(JETTY_CONNECTION)) {
            Method engine = method(c, "getSSLEngine");
            Method endPoint = method(c, "getEndPoint");
            Method local = method(endPoint.getReturnType(), "getLocalSocketAddress");
            Method remote = method(endPoint.getReturnType(), "getRemoteSocketAddress");
            return holder(JETTY, (h, ctx) -> {
                Object ep = endPoint.invoke(h);
                return ep != null && join(JETTY, (SSLEngine) engine.invoke(h), (SocketAddress) local.invoke(ep),
                        (SocketAddress) remote.invoke(ep));
            });
        }
        if (n.endsWith("io.netty.handler.ssl.SslHandler")) {
            Method engine = method(c, "engine");
            return holder(NETTY, (h, ctx) -> {
                if (ctx == null) {
                    return false;
                }
                Object channel = method(ctx.getClass(), "channel").invoke(ctx);
                SocketAddress remote = (SocketAddress) method(channel.getClass(), "remoteAddress").invoke(channel);
                if (remote == null) {
                    return false; // not connected yet: channelActive reports it again
                }
                SocketAddress local = (SocketAddress) method(channel.getClass(), "localAddress").invoke(channel);
                return join(NETTY, (SSLEngine) engine.invoke(h), local, remote);
            });
        }
        return null;
    }

    private interface Join {
        boolean join(Object holder, Object context) throws Exception;
    }

    private static Holder holder(String stack, Join join) {
        return new Holder() {
            @Override
            public String stack() {
                return stack;
            }

            @Override
            public boolean join(Object holder, Object context) throws Exception {
                return join.join(holder, context);
            }
        };
    }

    private boolean wildflySocket(Socket socket, SSLEngine engine) throws ReflectiveOperationException {
        if (engine == null) {
            return false;
        }
        synchronized (engine) {
            if (ssl(WILDFLY, engine) == 0) {
                // the engine makes its SSL* at its first wrap/unwrap: join then (wildflyEngine)
                synchronized (pendingSockets) {
                    pendingSockets.put(engine, socket);
                }
                return false;
            }
        }
        return join(WILDFLY, engine, socket.getLocalSocketAddress(), socket.getRemoteSocketAddress());
    }

    private boolean wildflyEngine(SSLEngine engine) throws ReflectiveOperationException {
        Socket socket;
        synchronized (pendingSockets) {
            socket = pendingSockets.remove(engine);
        }
        return socket != null
                ? join(WILDFLY, engine, socket.getLocalSocketAddress(), socket.getRemoteSocketAddress())
                : join(WILDFLY, engine, null, null);
    }

    /**
     * Writes the engine's role and addresses for its SSL*. Under the engine's monitor, which the
     * stacks hold when they free the SSL* (wildfly, netty) or which they cannot be freeing while
     * we hold the engine (Tomcat frees from a Cleaner once the engine is unreachable): the
     * pointer written is the engine's live one.
     */
    private boolean join(String stack, SSLEngine engine, SocketAddress local, SocketAddress remote)
            throws ReflectiveOperationException {
        if (engine == null) {
            return false;
        }
        if (engines.get(engine.getClass()) == null) {
            jsseEngine(engine, local, remote); // not a native engine: the JDK's own, or a wrapper of it
            return false;
        }
        synchronized (engine) {
            long ssl = ssl(stack, engine);
            if (ssl == 0) {
                return false;
            }
            try {
                peers.put(ssl, engine.getUseClientMode(), local, remote);
            } catch (io.btfagent.bpf.BpfException e) {
                throw new IllegalStateException("cannot write the peers map: " + e.getMessage(), e);
            }
            return true;
        }
    }

    /** Told the socket or channel of each engine that is not a native one (JSSE capture), or null. */
    static volatile TlsStacks.EngineAddresses jsse;

    /**
     * Hands a JSSE engine's addresses on, unwrapping engines that delegate to another (netty's
     * {@code JdkSslEngine} and its ALPN subclasses: {@code getWrappedEngine()}; Conscrypt's
     * {@code Java8EngineWrapper}: its {@code delegate}, the engine whose calls are captured).
     */
    private static void jsseEngine(SSLEngine engine, SocketAddress local, SocketAddress remote) {
        TlsStacks.EngineAddresses to = jsse;
        if (to == null || local == null || remote == null) {
            return;
        }
        SSLEngine e = engine;
        for (int depth = 0; depth < 4; depth++) {
            Object o;
            try {
                if (e.getClass().getName().equals(CONSCRYPT_WRAPPER)) {
                    Field delegate = e.getClass().getDeclaredField("delegate");
                    delegate.setAccessible(true);
                    o = delegate.get(e);
                } else {
                    Method inner = e.getClass().getMethod("getWrappedEngine");
                    inner.setAccessible(true);
                    o = inner.invoke(e);
                }
            } catch (NoSuchMethodException | NoSuchFieldException none) {
                break;
            } catch (ReflectiveOperationException | RuntimeException failed) {
                break;
            }
            if (!(o instanceof SSLEngine next) || next == e) {
                break;
            }
            e = next;
        }
        to.report(e, local, remote);
    }

    private static final String CONSCRYPT_WRAPPER = "org.conscrypt.Java8EngineWrapper";

    /** The engine's SSL*, 0 when it has none (yet, or any more) or is not a native engine. */
    private long ssl(String stack, SSLEngine engine) throws ReflectiveOperationException {
        EngineAccess a = engines.get(engine.getClass());
        return a == null ? 0 : a.ssl(engine);
    }

    private interface EngineAccess {
        long ssl(Object engine) throws ReflectiveOperationException;
    }

    /** How to read the SSL* of the native engines the agent knows; null for any other engine. */
    private static EngineAccess engineAccessFor(Class<?> type) {
        for (Class<?> c = type; c != null; c = c.getSuperclass()) {
            String n = c.getName();
            switch (n) {
                case "org.wildfly.openssl.OpenSSLEngine": {
                    Field ssl = field(c, "ssl");
                    return e -> ssl.getLong(e);
                }
                case "org.apache.tomcat.util.net.openssl.OpenSSLEngine": {
                    // the JNI (tcnative) engine: state.ssl is the SSL* as a long
                    Field state = field(c, "state");
                    Field ssl = field(state.getType(), "ssl");
                    return e -> {
                        Object s = state.get(e);
                        return s == null ? 0 : ssl.getLong(s);
                    };
                }
                case "org.apache.tomcat.util.net.openssl.panama.OpenSSLEngine": {
                    // the FFM engine: state.ssl is a MemorySegment
                    Field state = field(c, "state");
                    Field ssl = field(state.getType(), "ssl");
                    Method address = method(ssl.getType(), "address");
                    return e -> {
                        Object s = state.get(e);
                        Object segment = s == null ? null : ssl.get(s);
                        return segment == null ? 0 : (long) address.invoke(segment);
                    };
                }
                default:
                    if (n.endsWith("io.netty.handler.ssl.ReferenceCountedOpenSslEngine")) {
                        Method pointer = method(c, "sslPointer");
                        return e -> (long) pointer.invoke(e);
                    }
            }
        }
        return null;
    }

    private static Field field(Class<?> c, String name) {
        try {
            Field f = c.getDeclaredField(name);
            f.setAccessible(true);
            return f;
        } catch (NoSuchFieldException e) {
            throw new IllegalStateException(c.getName() + " has no field '" + name + "'");
        }
    }

    /** A public method of {@code c} (or a supertype), made callable whatever its class's access. */
    private static Method method(Class<?> c, String name) {
        try {
            Method m = c.getMethod(name);
            m.setAccessible(true);
            return m;
        } catch (NoSuchMethodException e) {
            for (Class<?> s = c; s != null; s = s.getSuperclass()) {
                try {
                    Method m = s.getDeclaredMethod(name);
                    m.setAccessible(true);
                    return m;
                } catch (NoSuchMethodException ignored) {
                    // try the superclass
                }
            }
            throw new IllegalStateException(c.getName() + " has no method '" + name + "()'");
        }
    }
}
