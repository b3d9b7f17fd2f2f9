package io.btfagent;

import java.io.ByteArrayInputStream;
import java.io.FileNotFoundException;
import java.io.IOException;
import java.io.InputStream;
import java.io.RandomAccessFile;
import java.lang.instrument.Instrumentation;
import java.lang.reflect.InvocationTargetException;
import java.net.MalformedURLException;
import java.net.URL;
import java.net.URLConnection;
import java.net.URLStreamHandler;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.CodeSource;
import java.security.ProtectionDomain;
import java.security.cert.Certificate;
import java.util.Collections;
import java.util.Enumeration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;
import java.util.zip.DataFormatException;
import java.util.zip.Inflater;

/**
 * The only class of the agent the application can see. It starts the real agent in an
 * isolated class loader whose parent is the platform loader, so the agent's JNA, logback and
 * slf4j never meet the application's. Everything is caught: the host never sees an exception.
 * As the jar's Main-Class it runs the commands ({@code java -jar btf-agent.jar --help}), also
 * from the isolated loader.
 */
public final class BtfAgent {
    private static final String STARTED = "btf.agent.started";
    /** Arguments of the commands the {@code attach}, {@code status} and {@code detach} commands send. */
    private static final String CONTROL = "@";

    /**
     * One isolated loader per JVM, kept for the JVM's life: a native library (JNA's) is bound
     * to the loader that loaded it, so an agent attached again after a detach must reuse it.
     */
    private static ClassLoader loader;

    private BtfAgent() {
    }

    public static void premain(String args, Instrumentation inst) {
        start(args, inst);
    }

    public static void agentmain(String args, Instrumentation inst) {
        if (args != null && args.startsWith(CONTROL)) {
            try {
                loader().loadClass("io.btfagent.runtime.AgentControl")
                        .getMethod("command", String.class, Instrumentation.class).invoke(null, args, inst);
            } catch (Throwable t) {
                System.err.println("[btf-agent] command not run: " + t);
            }
            return;
        }
        start(args, inst);
    }

    /** {@code java -jar btf-agent.jar <command>}: see {@code io.btfagent.cli.Cli}. */
    public static void main(String[] args) {
        int status;
        try {
            status = (Integer) loader().loadClass("io.btfagent.cli.Cli").getMethod("run", String[].class)
                    .invoke(null, (Object) args);
        } catch (InvocationTargetException e) {
            System.err.println("btf-agent: " + e.getCause());
            status = 1;
        } catch (Throwable t) {
            System.err.println("btf-agent: " + t);
            status = 1;
        }
        System.exit(status);
    }

    private static synchronized ClassLoader loader() throws Exception {
        if (loader == null) {
            loader = IsolatedLoader.of(BtfAgent.class.getProtectionDomain().getCodeSource());
        }
        return loader;
    }

    private static void start(String args, Instrumentation inst) {
        try {
            synchronized (System.class) {
                if (System.getProperty(STARTED) != null) {
                    System.err.println("[btf-agent] already running in this JVM; this -javaagent does nothing");
                    return;
                }
                System.setProperty(STARTED, "true");
            }
            // Even the class loader is made on the agent's own thread: premain returns at once.
            // That thread first waits for the application's main class to load, so that on a
            // small machine it does not compete with the JVM's own start-up for the CPUs.
            MainClassLoaded mainLoaded = new MainClassLoaded();
            boolean watching = false;
            if (inst != null) {
                try {
                    inst.addTransformer(mainLoaded);
                    watching = true;
                } catch (RuntimeException e) {
                    // no transformer: start at once
                }
            }
            // Set once the runtime has either said why it does not capture or registered its own
            // exit summary; a JVM that exits before that still gets one line (see EarlyExit).
            CountDownLatch decided = new CountDownLatch(1);
            Thread init = new Thread(new Init(args, inst, watching ? mainLoaded : null, decided), "btf-agent-init");
            init.setDaemon(true);
            Runtime.getRuntime().addShutdownHook(new Thread(new EarlyExit(decided), "btf-agent-early-exit"));
            init.start();
        } catch (Throwable t) {
            System.err.println("[btf-agent] not started: " + t + "; the application runs without capture");
        }
    }

    /**
     * The agent's start on its own thread. A class rather than a lambda: the first lambda of a
     * JVM bootstraps the invokedynamic machinery, some milliseconds that premain would add to
     * the application's start.
     */
    private static final class Init implements Runnable {
        private final String args;
        private final Instrumentation inst;
        private final MainClassLoaded mainLoaded;
        private final CountDownLatch decided;

        Init(String args, Instrumentation inst, MainClassLoaded mainLoaded, CountDownLatch decided) {
            this.args = args;
            this.inst = inst;
            this.mainLoaded = mainLoaded;
            this.decided = decided;
        }

        @Override
        public void run() {
            try {
                if (mainLoaded != null) {
                    mainLoaded.await(inst);
                }
                BtfAgent.run(args, inst, decided::countDown);
            } finally {
                decided.countDown();
            }
        }
    }

    private static void run(String args, Instrumentation inst, Runnable exitHandled) {
        try {
            loader().loadClass("io.btfagent.runtime.AgentRuntime")
                    .getMethod("run", String.class, Instrumentation.class, Runnable.class)
                    .invoke(null, args, inst, exitHandled);
        } catch (Throwable t) {
            System.err.println("[btf-agent] not started: " + t + "; the application runs without capture");
        }
    }

    /** Clock ticks per second of /proc's times (USER_HZ: 100 on every Linux the agent runs on). */
    private static final long USER_HZ = 100;
    /** When this process started, in clock ticks since boot (/proc/self/stat); -1 unknown, 0 not read yet. */
    private static volatile long startTicks;

    /**
     * Milliseconds since this JVM's process started, in 10 ms steps, or -1 if unknown. Both ends
     * come from the kernel's boot-time clock: the start time of /proc/self/stat against
     * /proc/uptime. {@code ProcessHandle}'s start instant adds the boot time, which /proc gives
     * in whole seconds, so it is off by up to a second. The agent's lines give every time in
     * this figure (the isolated side reaches it through the system loader).
     */
    public static long sinceStartMs() {
        try {
            long start = startTicks;
            if (start == 0) {
                String stat = java.nio.file.Files.readString(Path.of("/proc/self/stat"));
                // fields after the command, which may hold spaces: state is field 3, starttime 22
                String[] f = stat.substring(stat.lastIndexOf(')') + 2).split(" ");
                start = Long.parseLong(f[22 - 3]);
                startTicks = start;
            }
            String uptime = java.nio.file.Files.readString(Path.of("/proc/uptime"));
            long nowMs = Math.round(Double.parseDouble(uptime.substring(0, uptime.indexOf(' '))) * 1000);
            return start < 0 ? -1 : Math.max(0, nowMs - start * 1000 / USER_HZ);
        } catch (IOException | RuntimeException e) {
            startTicks = -1;
            return -1;
        }
    }

    /**
     * The exit hook of a JVM that ends while the agent is still starting (before the runtime has
     * warned why it cannot capture, or registered its own exit summary): it lets start-up go on
     * for up to {@value #WAIT_MS} ms so that its one line (a missing privilege, say) is still
     * printed, then says itself that the agent had not started if it still has not.
     */
    static final class EarlyExit implements Runnable {
        static final long WAIT_MS = 2000;
        private final CountDownLatch decided;
        private final long waitMs;
        private final java.io.PrintStream err;

        EarlyExit(CountDownLatch decided) {
            this(decided, WAIT_MS, System.err);
        }

        EarlyExit(CountDownLatch decided, long waitMs, java.io.PrintStream err) {
            this.decided = decided;
            this.waitMs = waitMs;
            this.err = err;
        }

        @Override
        public void run() {
            try {
                if (!decided.await(waitMs, TimeUnit.MILLISECONDS)) {
                    err.println("[btf-agent] the JVM exited " + sinceStartMs() + " ms after its start, before the agent "
                            + "had started (still starting " + waitMs + " ms later); nothing was captured");
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    /**
     * Sees the first class the application's class loader loads that is not the agent's: the
     * main class, loaded just before {@code main} runs (also with {@code -jar}). Transforms
     * nothing, and is removed as soon as it has seen it (or after {@value #MAX_WAIT_MS} ms).
     */
    static final class MainClassLoaded implements java.lang.instrument.ClassFileTransformer {
        private static final long MAX_WAIT_MS = 300;
        /** BtfAgent's internal name and its nested classes' prefix: constants, so no string is built per class. */
        static final String SELF = "io/btfagent/BtfAgent";
        private static final String SELF_NESTED = SELF + "$";
        private final java.util.concurrent.CountDownLatch seen = new java.util.concurrent.CountDownLatch(1);

        @Override
        public byte[] transform(ClassLoader loader, String className, Class<?> classBeingRedefined,
                ProtectionDomain protectionDomain, byte[] classfileBuffer) {
            // the agent's only classes in the system loader are BtfAgent and its nested classes
            if (seen.getCount() > 0 && loader != null && loader == ClassLoader.getSystemClassLoader()
                    && className != null && !className.equals(SELF) && !className.startsWith(SELF_NESTED)) {
                seen.countDown();
            }
            return null;
        }

        boolean mainSeen() {
            return seen.getCount() == 0;
        }

        void await(Instrumentation inst) {
            try {
                seen.await(MAX_WAIT_MS, java.util.concurrent.TimeUnit.MILLISECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            } finally {
                inst.removeTransformer(this);
            }
        }
    }

    /**
     * Loads the agent's classes and resources from the agent's own archive ({@link Archive}), which
     * no other class loader reads.
     */
    static final class IsolatedLoader extends ClassLoader implements BiConsumer<String, URL> {
        static {
            registerAsParallelCapable();
        }

        private final Archive archive;
        private final ProtectionDomain domain;
        private final Map<String, URL> overrides = new ConcurrentHashMap<>();

        /**
         * The loader of the agent jar at {@code cs}. A factory typed {@code ClassLoader}, so that
         * verifying {@code BtfAgent} (in premain, before {@code main}) does not load this class.
         */
        static ClassLoader of(CodeSource cs) throws Exception {
            return new IsolatedLoader(Archive.open(Path.of(cs.getLocation().toURI()), Archive.NAME), cs);
        }

        IsolatedLoader(Archive archive, CodeSource cs) {
            super("btf-agent", ClassLoader.getPlatformClassLoader());
            this.archive = archive;
            this.domain = new ProtectionDomain(new CodeSource(cs.getLocation(), (Certificate[]) null), null, this, null);
        }

        @Override
        protected Class<?> findClass(String name) throws ClassNotFoundException {
            byte[] b;
            try {
                b = archive.read(name.replace('.', '/') + ".class");
            } catch (IOException io) {
                throw new ClassNotFoundException(name, io);
            }
            if (b == null) {
                throw new ClassNotFoundException(name);
            }
            int dot = name.lastIndexOf('.');
            if (dot > 0) {
                String pkg = name.substring(0, dot);
                if (getDefinedPackage(pkg) == null) {
                    try {
                        definePackage(pkg, null, null, null, null, null, null, null);
                    } catch (IllegalArgumentException raced) {
                        // defined concurrently
                    }
                }
            }
            return defineClass(name, b, 0, b.length, domain);
        }

        /**
         * Serves {@code name} from {@code url} instead of the archive. The agent uses it to hand
         * JNA a {@code file:} URL to its dispatch library, which JNA then loads in place rather
         * than extracting a copy to a directory chosen by JVM-global properties.
         */
        @Override
        public void accept(String name, URL url) {
            overrides.put(name, url);
        }

        @Override
        protected URL findResource(String name) {
            URL override = overrides.get(name);
            return override != null ? override : archive.url(name);
        }

        @Override
        protected Enumeration<URL> findResources(String name) {
            URL u = findResource(name);
            return u == null ? Collections.emptyEnumeration() : Collections.enumeration(Collections.singletonList(u));
        }
    }

    /**
     * The agent's classes and resources, dependencies included: one zip archive, {@value #NAME},
     * stored uncompressed in the agent jar and read in place, by positional reads of the jar. The
     * JVM opens the agent jar before {@code main}, as part of the application's class path, and
     * indexes every entry of it there; with the agent's 8,000-odd entries nested in one, that
     * index has a handful, and the agent's own is built on the agent's thread when it first
     * loads a class. The jar is read, not mapped: a jar overwritten in place while the JVM runs
     * then fails a read (one line, no class) instead of faulting on a mapped page. And it is read
     * through a {@link RandomAccessFile}, not a {@code FileChannel}: a channel closes for good
     * when a thread reading it is interrupted, and application threads load agent classes too.
     */
    static final class Archive {
        static final String NAME = "inst.jar";
        private static final int LOCAL = 0x04034b50;
        private static final int CENTRAL = 0x02014b50;
        private static final int END = 0x06054b50;
        private static final int STORED = 0;
        private static final int DEFLATED = 8;

        private final String where;
        private final RandomAccessFile file;
        /** Where the archive starts in the file, and its length. */
        private final long base;
        private final long length;
        /** The archive's central directory, little-endian. */
        private final ByteBuffer cen;
        /** Entry name to the offset of its header in {@link #cen}. */
        private final Map<String, Integer> central;
        private final Handler handler = new Handler(this);

        private Archive(String where, RandomAccessFile file, long base, long length) throws IOException {
            this.where = where;
            this.file = file;
            this.base = base;
            this.length = length;
            // the end record is the last thing in the archive, before a comment of up to 64 KiB
            int tail = (int) Math.min(length, 22 + 0xffff);
            ByteBuffer end = read(length - tail, tail);
            int at = -1;
            for (int i = tail - 22; i >= 0; i--) {
                if (end.getInt(i) == END) {
                    at = i;
                    break;
                }
            }
            if (at < 0) {
                throw new IOException(where + " is not a zip archive (no end record)");
            }
            int count = u16(end, at + 10);
            long cenSize = end.getInt(at + 12) & 0xffffffffL;
            long cenStart = end.getInt(at + 16) & 0xffffffffL;
            if (cenStart + cenSize > length - tail + at) {
                throw new IOException(where + " has a damaged end record");
            }
            this.cen = read(cenStart, (int) cenSize);
            this.central = index(count);
        }

        /** The archive {@code name} stored uncompressed in the zip file {@code jar}. */
        static Archive open(Path jar, String name) throws IOException {
            RandomAccessFile ch = new RandomAccessFile(jar.toFile(), "r");
            try {
                Archive outer = new Archive(jar.toString(), ch, 0, ch.length());
                Integer at = outer.central.get(name);
                if (at == null) {
                    throw new IOException(jar + " has no " + name + ": not a btf-agent jar, or a damaged one");
                }
                if (u16(outer.cen, at + 10) != STORED) {
                    throw new IOException(name + " in " + jar + " is compressed; the agent reads it only stored");
                }
                return new Archive(jar + "!/" + name, ch, outer.dataStart(at), outer.cen.getInt(at + 20) & 0xffffffffL);
            } catch (IOException | RuntimeException e) {
                ch.close();
                throw e;
            }
        }

        /** {@code n} bytes at {@code offset} of the archive, little-endian; fewer is an IOException. */
        private ByteBuffer read(long offset, int n) throws IOException {
            if (offset < 0 || n < 0 || offset + n > length) {
                throw new IOException(where + ": a read past the end of the archive (damaged, or changed since it was opened)");
            }
            byte[] b = new byte[n];
            try {
                synchronized (file) {
                    file.seek(base + offset);
                    file.readFully(b);
                }
            } catch (java.io.EOFException e) {
                throw new IOException(where + " ended early: the file was changed since the agent opened it");
            }
            return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN);
        }

        private Map<String, Integer> index(int count) throws IOException {
            Map<String, Integer> map = new HashMap<>(count * 4 / 3 + 1);
            byte[] name = new byte[256];
            int at = 0;
            for (int i = 0; i < count; i++) {
                if (at + 46 > cen.limit() || cen.getInt(at) != CENTRAL || at + 46 + u16(cen, at + 28) > cen.limit()) {
                    throw new IOException(where + " has a damaged central directory (entry " + i + ")");
                }
                int nameLength = u16(cen, at + 28);
                if (nameLength > name.length) {
                    name = new byte[nameLength];
                }
                cen.get(at + 46, name, 0, nameLength);
                map.put(new String(name, 0, nameLength, StandardCharsets.UTF_8), at);
                at += 46 + nameLength + u16(cen, at + 30) + u16(cen, at + 32);
            }
            return map;
        }

        /** Where the data of the entry whose central header is at {@code at} starts in the archive. */
        private long dataStart(int at) throws IOException {
            long local = cen.getInt(at + 42) & 0xffffffffL;
            ByteBuffer h = read(local, 30);
            if (h.getInt(0) != LOCAL) {
                throw new IOException(where + " has a damaged local header at " + local);
            }
            return local + 30 + u16(h, 26) + u16(h, 28);
        }

        /** The content of entry {@code name}, or null if there is none. */
        byte[] read(String name) throws IOException {
            Integer at = central.get(name);
            if (at == null) {
                return null;
            }
            int stored = cen.getInt(at + 20);
            int size = cen.getInt(at + 24);
            if (stored < 0 || size < 0) {
                throw new IOException(where + "!/" + name + " is too large");
            }
            ByteBuffer data = read(dataStart(at), stored);
            int method = u16(cen, at + 10);
            if (method == STORED) {
                return data.array();
            }
            if (method != DEFLATED) {
                throw new IOException(where + "!/" + name + " has compression method " + method);
            }
            byte[] b = new byte[size];
            Inflater inflater = new Inflater(true);
            try {
                inflater.setInput(data.array(), 0, stored);
                int n = 0;
                while (n < size) {
                    int k = inflater.inflate(b, n, size - n);
                    if (k == 0 && (inflater.finished() || inflater.needsInput() || inflater.needsDictionary())) {
                        break;
                    }
                    n += k;
                }
                if (n != size) {
                    throw new IOException(where + "!/" + name + " inflates to " + n + " bytes, not " + size);
                }
                return b;
            } catch (DataFormatException e) {
                throw new IOException(where + "!/" + name + " is damaged: " + e.getMessage());
            } finally {
                inflater.end();
            }
        }

        /** A URL that reads entry {@code name}, or null if there is none. */
        URL url(String name) {
            if (!central.containsKey(name)) {
                return null;
            }
            try {
                return new URL(Handler.PROTOCOL, "", -1, "/" + name, handler);
            } catch (MalformedURLException e) {
                return null;
            }
        }

        private static int u16(ByteBuffer b, int at) {
            return b.getShort(at) & 0xffff;
        }

        /** {@code btf-agent:/<entry>} URLs of one archive. */
        static final class Handler extends URLStreamHandler {
            static final String PROTOCOL = "btf-agent";
            private final Archive archive;

            Handler(Archive archive) {
                this.archive = archive;
            }

            @Override
            protected URLConnection openConnection(URL u) {
                return new Connection(u, archive);
            }
        }

        static final class Connection extends URLConnection {
            private final Archive archive;
            private byte[] content;

            Connection(URL u, Archive archive) {
                super(u);
                this.archive = archive;
            }

            @Override
            public void connect() throws IOException {
                if (content == null) {
                    content = archive.read(getURL().getPath().substring(1));
                    if (content == null) {
                        throw new FileNotFoundException(getURL().toString());
                    }
                    connected = true;
                }
            }

            @Override
            public InputStream getInputStream() throws IOException {
                connect();
                return new ByteArrayInputStream(content);
            }

            @Override
            public long getContentLengthLong() {
                try {
                    connect();
                    return content.length;
                } catch (IOException e) {
                    return -1;
                }
            }
        }
    }
}
