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

    /** One connection; the addresses of an engine may be learnt after its first call. */
    static final class Conn {
        final long id;
        final String role;
        volatile String local;
        volatile String remote;
        /** The agent's own (a sink's TLS, e.g. the kafka sink's producer): never captured. */
        final boolean own;

        Conn(long id, String role, String local, String remote, boolean own) {
            this.id = id;
            this.role = role;
            this.local = local;
            this.remote = remote;
            this.own = own;
        }
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
        // out, or its events would be captured, sent, and captured again
        boolean own = agent != null && WALKER.walk(frames -> frames.anyMatch(
                f -> f.getDeclaringClass().getClassLoader() == agent && !f.getClassName().startsWith("io.btfagent.")));
        return new Conn(own ? 0 : ids.getAsLong(), role, local, remote, own);
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
