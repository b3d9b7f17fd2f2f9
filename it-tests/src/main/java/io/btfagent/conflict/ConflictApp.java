package io.btfagent.conflict;

import ch.qos.logback.core.util.EnvUtil;
import com.sun.jna.Library;
import com.sun.jna.Native;
import io.btfagent.demo.TlsEchoServer;
import io.btfagent.demo.WildflyHttpsClient;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.security.CodeSource;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.ServiceLoader;
import java.util.TreeMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.slf4j.spi.SLF4JServiceProvider;

/**
 * An application that brings its own slf4j, logback (with its own {@code logback.xml}), netty
 * and JNA, each of another version than the agent carries. Everything it prints is
 * deterministic, so a run with the agent can be compared byte for byte with a run without it:
 * any of the agent's libraries, resources or JVM-global settings leaking into the application
 * shows up as a difference.
 *
 * <p>Usage: {@code ConflictApp [<host> <port> <path>]}. With arguments it ends with one HTTPS
 * request through {@link WildflyHttpsClient} (native libssl). With {@code -Ddemo.await-go}
 * containing {@code traffic} it reads one line from stdin after its logging and netty work (which
 * so run while the agent starts) and before it looks at JVM-global state, loads its JNA or sends
 * anything, as {@link WildflyHttpsClient#main} does; a test sends that line once the agent has
 * hooked libssl, so what follows sees the agent fully started. Exit code 0 on success, 1 on
 * failure.
 */
public final class ConflictApp {
    private static final Logger LOG = LoggerFactory.getLogger(ConflictApp.class);

    /**
     * JVM-global system properties the application's libraries read or set. The agent's own
     * start guard ({@code btf.agent.started}) is not among them.
     */
    private static final List<String> GLOBAL_PREFIXES = List.of("jna.", "jnidispatch.", "logback.", "slf4j.",
            "io.netty.");

    /** The part of libc this application maps through JNA's interface mapping. */
    public interface LibC extends Library {
        int getpid();
    }

    private ConflictApp() {
    }

    public static void main(String[] args) {
        try {
            run(args);
            System.out.flush();
            System.exit(0);
        } catch (Exception | LinkageError e) {
            System.err.println(io.btfagent.demo.WildflyHttpsClient.failure("ConflictApp", e));
            System.exit(1);
        }
    }

    private static void run(String[] args) throws Exception {
        if (args.length != 0 && args.length != 3) {
            throw new IllegalArgumentException("usage: ConflictApp [<host> <port> <path>]");
        }
        LOG.info("starting with {} arguments", args.length);
        LOG.debug("a debug line, printed only where the configuration enables DEBUG");
        LOG.warn("a warning with a parameter: {}", 42);
        System.out.println("slf4j factory " + LoggerFactory.getILoggerFactory().getClass().getName());
        System.out.println("slf4j providers " + providers());
        System.out.println("logback " + EnvUtil.logbackVersion() + ", classic "
                + ch.qos.logback.classic.Logger.class.getPackage().getImplementationVersion());
        System.out.println("logback.xml on the class path " + resourceCount("logback.xml")
                + ", logback-test.xml " + resourceCount("logback-test.xml"));

        ByteBuf buf = PooledByteBufAllocator.DEFAULT.buffer(64);
        try {
            buf.writeCharSequence("pooled by the application's netty", StandardCharsets.UTF_8);
            // Not the class name: netty's leak detector wraps a random sample of buffers.
            System.out.println("netty pooled " + (buf.isDirect() ? "direct" : "heap") + " buffer readableBytes "
                    + buf.readableBytes() + " content '" + buf.toString(StandardCharsets.UTF_8) + "'");
        } finally {
            buf.release();
        }
        System.out.println("netty buffer released, refCnt " + buf.refCnt());

        String awaitGo = System.getProperty("demo.await-go", "");
        if (awaitGo.contains("traffic")) {
            new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)).readLine();
        }
        // Printed before this application loads its JNA: whatever is set now came from elsewhere.
        System.out.println("global properties before the application's JNA " + globalProperties());

        LibC libc = Native.load("c", LibC.class);
        System.out.println("jna " + Native.VERSION + " getpid equals ProcessHandle pid "
                + (libc.getpid() == ProcessHandle.current().pid()));
        System.out.println("jna loaded by the application class loader "
                + (Native.class.getClassLoader() == ClassLoader.getSystemClassLoader()));
        System.out.println("jars " + jarOf(org.slf4j.Logger.class) + " " + jarOf(ch.qos.logback.classic.Logger.class)
                + " " + jarOf(EnvUtil.class) + " " + jarOf(Native.class) + " " + jarOf(ByteBuf.class) + " "
                + jarOf(io.netty.util.ReferenceCounted.class));
        System.out.println("agent runtime visible to the application " + visible("io.btfagent.runtime.AgentRuntime"));

        if (args.length == 3) {
            String host = args[0];
            int port = Integer.parseInt(args[1]);
            String path = args[2];
            WildflyHttpsClient.Exchange exchange = new WildflyHttpsClient().get(host, port, path);
            System.out.println("https " + exchange.statusLine() + ", " + exchange.response().length
                    + " bytes, as the server sends them "
                    + Arrays.equals(exchange.response(), TlsEchoServer.responseFor(path)));
            System.out.println("request-sha256 " + WildflyHttpsClient.sha256(exchange.request()));
            System.out.println("response-sha256 " + WildflyHttpsClient.sha256(exchange.response()));
        }
        LOG.info("done");
    }

    private static List<String> providers() {
        List<String> names = new ArrayList<>();
        for (SLF4JServiceProvider p : ServiceLoader.load(SLF4JServiceProvider.class)) {
            names.add(p.getClass().getName() + " from " + jarOf(p.getClass()));
        }
        return names;
    }

    private static int resourceCount(String name) throws java.io.IOException {
        List<URL> urls = Collections.list(ClassLoader.getSystemClassLoader().getResources(name));
        return urls.size();
    }

    private static TreeMap<String, String> globalProperties() {
        TreeMap<String, String> found = new TreeMap<>();
        for (String key : System.getProperties().stringPropertyNames()) {
            if (GLOBAL_PREFIXES.stream().anyMatch(key::startsWith)) {
                found.put(key, System.getProperty(key));
            }
        }
        return found;
    }

    private static String jarOf(Class<?> c) {
        CodeSource cs = c.getProtectionDomain().getCodeSource();
        if (cs == null || cs.getLocation() == null) {
            return "<none>";
        }
        String path = cs.getLocation().getPath();
        return path.substring(path.lastIndexOf('/', path.length() - 2) + 1);
    }

    private static boolean visible(String className) {
        try {
            Class.forName(className, false, ClassLoader.getSystemClassLoader());
            return true;
        } catch (ClassNotFoundException e) {
            return false;
        }
    }
}
