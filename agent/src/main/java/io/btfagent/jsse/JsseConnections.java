package io.btfagent.jsse;

import io.btfagent.event.AddressText;
import java.net.Socket;
import java.net.SocketAddress;
import java.util.Map;
import java.util.WeakHashMap;
import java.util.function.LongSupplier;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLSocket;

/**
 * The JSSE connections seen so far: for each SSLEngine or SSLSocket, its conn id (drawn from
 * the kernel's sequence, so native and Java connections never share one), its role and its
 * addresses. Held weakly: an engine or socket the application drops is forgotten with it.
 * Striped by identity hash so that threads driving different connections rarely meet on a lock.
 */
final class JsseConnections {
    private static final int STRIPES = 16;
    private static final String CONSCRYPT_ENGINE = "org.conscrypt.ConscryptEngine";
    /** Its SSLInputStream and SSLOutputStream, which drive its engine. */
    private static final String CONSCRYPT_ENGINE_SOCKET = "org.conscrypt.ConscryptEngineSocket$";

    /** One connection; the addresses of an engine may be learnt after its first call. */
    static final class Conn {
        final long id;
        final String role;
        volatile String local;
        volatile String remote;
        /**
         * Never captured: the agent's own (a sink's TLS, e.g. the kafka sink's producer), or an
         * engine that a woven socket drives (Conscrypt's engine socket: captured at its streams).
         */
        final boolean own;
        /** The implementation's version and where it is: the JDK's, or the provider's jar. */
        final String libVersion;
        final String libPath;

        Conn(long id, String role, String local, String remote, boolean own, Implementation lib) {
            this.id = id;
            this.role = role;
            this.local = local;
            this.remote = remote;
            this.own = own;
            this.libVersion = lib.version();
            this.libPath = lib.path();
        }
    }

    /** A JSSE implementation: the JDK's ({@code java.version}, {@code java.home}) or a provider's jar. */
    record Implementation(String version, String path) {
        static final Implementation JDK = new Implementation(System.getProperty("java.version"),
                System.getProperty("java.home"));
    }

    private static final ClassValue<Implementation> IMPLEMENTATIONS = new ClassValue<>() {
        @Override
        protected Implementation computeValue(Class<?> type) {
            return implementationOf(type);
        }
    };

    /** The JDK for its own classes; else the version in the class's jar's manifest, and the jar. */
    static Implementation implementationOf(Class<?> type) {
        ClassLoader l = type.getClassLoader();
        if (l == null || l == ClassLoader.getPlatformClassLoader()) {
            return Implementation.JDK;
        }
        String version = null;
        String path = null;
        try {
            java.security.CodeSource cs = type.getProtectionDomain().getCodeSource();
            if (cs != null && cs.getLocation() != null && cs.getLocation().getProtocol().equals("file")) {
                path = java.nio.file.Path.of(cs.getLocation().toURI()).toString();
            }
        } catch (RuntimeException | java.net.URISyntaxException e) {
            // no path
        }
        Package p = type.getPackage();
        if (p != null) {
            version = p.getImplementationVersion() != null ? p.getImplementationVersion() : p.getSpecificationVersion();
        }
        if (version == null && path != null && path.endsWith(".jar")) {
            try (java.util.jar.JarFile jar = new java.util.jar.JarFile(path)) {
                java.util.jar.Manifest m = jar.getManifest();
                version = m == null ? null : m.getMainAttributes().getValue("Bundle-Version");
            } catch (java.io.IOException | RuntimeException e) {
                // no version
            }
        }
        return new Implementation(version, path);
    }

    private static final StackWalker WALKER = StackWalker.getInstance(StackWalker.Option.RETAIN_CLASS_REFERENCE);


    /** Addresses the driving stack reported for an engine before its first call. */
    private record Addresses(String local, String remote) {
    }

    private final LongSupplier ids;
    /** The agent's class loader: a connection driven from its code is the agent's own; null: none is. */
    private final ClassLoader agent;
    @SuppressWarnings("unchecked")
    private final Map<Object, Conn>[] stripes = new Map[STRIPES];
    private final Map<Object, Addresses> early = new WeakHashMap<>();

    JsseConnections(LongSupplier ids, ClassLoader agent) {
        this.ids = ids;
        this.agent = agent;
        for (int i = 0; i < STRIPES; i++) {
            stripes[i] = new WeakHashMap<>();
        }
    }

    /** The connection of {@code tls} (an SSLEngine or SSLSocket), numbered at its first call. */
    Conn of(Object tls) {
        Map<Object, Conn> m = stripes[System.identityHashCode(tls) & (STRIPES - 1)];
        synchronized (m) {
            Conn c = m.get(tls);
            if (c != null) {
                return c;
            }
        }
        Conn made = make(tls);
        synchronized (m) {
            Conn c = m.get(tls);
            if (c != null) {
                return c; // another thread made it first: the id drawn here is skipped
            }
            m.put(tls, made);
            Addresses a;
            synchronized (early) {
                a = early.remove(tls);
            }
            if (a != null) {
                made.local = a.local();
                made.remote = a.remote();
            }
            return made;
        }
    }

    private Conn make(Object tls) {
        String role = null;
        String local = null;
        String remote = null;
        if (tls instanceof SSLSocket s) {
            role = s.getUseClientMode() ? "client" : "server";
            local = AddressText.of(((Socket) s).getLocalSocketAddress());
            remote = AddressText.of(s.getRemoteSocketAddress());
        } else if (tls instanceof SSLEngine e) {
            role = e.getUseClientMode() ? "client" : "server";
        }
        // once per connection: a TLS connection the agent's own code drives (a sink's) is left
        // out, or its events would be captured, sent, and captured again; so is the engine of
        // Conscrypt's engine socket, whose streams are captured (its first application bytes
        // always move inside them). The agent's code runs on its own threads only (its sinks'
        // clients start theirs from its class loader), so only there is the stack walked: a
        // walk on every new connection of the application cost more than its capture.
        boolean socketEngine = tls.getClass().getName().equals(CONSCRYPT_ENGINE);
        boolean own = (agentThread() || socketEngine) && WALKER.walk(frames -> frames.anyMatch(
                f -> agent != null && f.getDeclaringClass().getClassLoader() == agent
                        && !f.getClassName().startsWith("io.btfagent.")
                        || socketEngine && f.getClassName().startsWith(CONSCRYPT_ENGINE_SOCKET)));
        return new Conn(own ? 0 : ids.getAsLong(), role, local, remote, own, IMPLEMENTATIONS.get(tls.getClass()));
    }

    /** Whether this thread is the agent's: named by it, or of a class of its loader (a sink client's). */
    private boolean agentThread() {
        Thread t = Thread.currentThread();
        return agent != null && (t.getClass().getClassLoader() == agent || t.getName().startsWith("btf-agent"));
    }

    /**
     * The socket or channel an engine is driven over, as the stack driving it reported: given to
     * the engine's connection, or kept for its first call.
     */
    void addresses(SSLEngine engine, SocketAddress local, SocketAddress remote) {
        String l = AddressText.of(local);
        String r = AddressText.of(remote);
        if (l == null || r == null) {
            return;
        }
        Map<Object, Conn> m = stripes[System.identityHashCode(engine) & (STRIPES - 1)];
        Conn c;
        synchronized (m) {
            c = m.get(engine);
            if (c == null) {
                synchronized (early) {
                    early.put(engine, new Addresses(l, r));
                }
                return;
            }
        }
        c.local = l;
        c.remote = r;
    }
}
