package io.btfagent.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.TreeMap;
import java.util.jar.Attributes;
import java.util.jar.JarFile;
import java.util.jar.Manifest;
import java.util.zip.ZipEntry;
import java.util.zip.ZipFile;
import java.util.zip.ZipInputStream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The agent jar as the application sees it: one entry class on the class path, everything else
 * in one nested archive, {@code inst.jar}, stored uncompressed (one copy of each library), that
 * only the agent's isolated class loader reads. Needs no privileges: the child JVMs run with the
 * agent disabled, which still loads the agent's runtime classes from the archive.
 */
class PackagingIT {
    private static final String ENTRY = "io.btfagent.BtfAgent";
    private static final String ARCHIVE = "inst.jar";
    private static final String APP = ConflictIT.APP;
    private static final String DISABLED = "[btf-agent] disabled (enabled=false); the application runs without capture";
    private static final String ALREADY = "[btf-agent] already running in this JVM; this -javaagent does nothing";

    /** The agent jar's entry names in the order it stores them, read twice: central directory and local headers. */
    private static List<String> central;
    private static List<String> local;
    /** The same of the nested archive. */
    private static List<String> inner;
    private static List<String> innerLocal;
    /** The nested archive, copied out of the agent jar. */
    private static Path archive;

    @BeforeAll
    static void readEntries(@TempDir Path tmp) throws IOException {
        assertTrue(Files.isRegularFile(ChildJvm.AGENT_JAR), "no agent jar at " + ChildJvm.AGENT_JAR.toAbsolutePath());
        central = centralNames(ChildJvm.AGENT_JAR);
        local = localNames(ChildJvm.AGENT_JAR);
        archive = tmp.resolve(ARCHIVE);
        try (ZipFile zip = new ZipFile(ChildJvm.AGENT_JAR.toFile())) {
            ZipEntry e = zip.getEntry(ARCHIVE);
            assertNotNull(e, "no " + ARCHIVE + " in the agent jar: " + central);
            try (InputStream in = zip.getInputStream(e)) {
                Files.copy(in, archive);
            }
        }
        inner = centralNames(archive);
        innerLocal = localNames(archive);
    }

    private static List<String> centralNames(Path zipFile) throws IOException {
        List<String> names = new ArrayList<>();
        try (ZipFile zip = new ZipFile(zipFile.toFile())) {
            zip.stream().forEach(e -> names.add(e.getName()));
        }
        return names;
    }

    private static List<String> localNames(Path zipFile) throws IOException {
        List<String> names = new ArrayList<>();
        try (ZipInputStream in = new ZipInputStream(Files.newInputStream(zipFile))) {
            for (ZipEntry e = in.getNextEntry(); e != null; e = in.getNextEntry()) {
                names.add(e.getName());
            }
        }
        return names;
    }

    @Test
    void manifestNamesTheEntryClassAndAVersionAndNothingForTheClassPath() throws IOException {
        Manifest m;
        try (JarFile jar = new JarFile(ChildJvm.AGENT_JAR.toFile())) {
            m = jar.getManifest();
        }
        assertNotNull(m, "the jar has a manifest");
        Attributes a = m.getMainAttributes();
        assertEquals(ENTRY, a.getValue("Premain-Class"));
        assertEquals(ENTRY, a.getValue("Agent-Class"));
        assertEquals(ENTRY, a.getValue("Main-Class"), "java -jar runs the commands through the entry class");
        assertEquals("true", a.getValue("Can-Retransform-Classes"));
        String version = a.getValue("Implementation-Version");
        assertTrue(version != null && !version.isBlank(), "Implementation-Version: " + version);
        // Either would put more of the agent on the application's (or the boot) class path.
        assertNull(a.getValue("Class-Path"), "Class-Path");
        assertNull(a.getValue("Boot-Class-Path"), "Boot-Class-Path");
    }

    @Test
    void noEntryIsStoredTwice() {
        assertEquals(central.size(), local.size(), "central directory and local headers list the same entries");
        assertEquals(List.of(), duplicates(central), "duplicated in the central directory");
        assertEquals(List.of(), duplicates(local), "duplicated among the local headers");
        assertEquals(inner.size(), innerLocal.size(), ARCHIVE + ": central directory and local headers differ");
        assertEquals(List.of(), duplicates(inner), "duplicated in the central directory of " + ARCHIVE);
        assertEquals(List.of(), duplicates(innerLocal), "duplicated among the local headers of " + ARCHIVE);
    }

    @Test
    void theArchiveIsStoredUncompressedAndTheJarHasAHandfulOfEntries() throws IOException {
        // The agent reads the archive in place from the jar, which needs it stored; the JVM
        // indexes every entry of the jar before main, which the nesting keeps to a handful.
        try (ZipFile zip = new ZipFile(ChildJvm.AGENT_JAR.toFile())) {
            ZipEntry e = zip.getEntry(ARCHIVE);
            assertEquals(ZipEntry.STORED, e.getMethod(), ARCHIVE + " compression method");
            assertEquals(Files.size(archive), e.getSize());
        }
        assertTrue(central.size() <= 20, "the agent jar has " + central.size() + " entries: " + central);
        assertTrue(inner.size() > 5000, ARCHIVE + " has only " + inner.size() + " entries");
        long deflated;
        try (ZipFile zip = new ZipFile(archive.toFile())) {
            deflated = zip.stream().filter(x -> x.getMethod() == ZipEntry.DEFLATED).count();
        }
        assertTrue(deflated > inner.size() / 2, "only " + deflated + " of " + inner.size() + " entries compressed");
    }

    @Test
    void theApplicationClassPathSeesOnlyTheEntryClass() {
        List<String> outside = new ArrayList<>();
        for (String name : central) {
            boolean allowed = name.equals("META-INF/") || name.equals("META-INF/MANIFEST.MF")
                    || name.equals("io/") || name.equals("io/btfagent/") || name.equals(ARCHIVE)
                    || name.equals("io/btfagent/BtfAgent.class")
                    || name.matches("io/btfagent/BtfAgent\\$[^/]+\\.class");
            if (!allowed) {
                outside.add(name);
            }
        }
        // The jar is appended to the application's class path: a service file, a logback.xml or
        // a native library here would be found by the application's own libraries.
        assertEquals(List.of(), outside, "entries other than the entry class, the manifest and " + ARCHIVE);
        assertTrue(central.contains("io/btfagent/BtfAgent.class"));
        assertFalse(inner.contains("io/btfagent/BtfAgent.class"), "a second copy of the entry class");
    }

    @Test
    void everyClassInTheArchiveIsStoredOnceAndEachLibraryOnce() throws IOException {
        Set<String> classNames = new HashSet<>();
        List<String> notClassFiles = new ArrayList<>();
        try (ZipFile zip = new ZipFile(archive.toFile())) {
            for (String name : inner) {
                if (!name.endsWith(".class")) {
                    continue;
                }
                String className = name.substring(0, name.length() - ".class".length()).replace('/', '.');
                assertTrue(classNames.add(className), "class stored twice: " + className);
                try (InputStream in = zip.getInputStream(zip.getEntry(name))) {
                    byte[] magic = in.readNBytes(4);
                    if (magic.length != 4 || (magic[0] & 0xff) != 0xCA || (magic[1] & 0xff) != 0xFE
                            || (magic[2] & 0xff) != 0xBA || (magic[3] & 0xff) != 0xBE) {
                        notClassFiles.add(name);
                    }
                }
            }
        }
        assertEquals(List.of(), notClassFiles, ".class entries that are not class files");
        assertTrue(classNames.contains("io.btfagent.runtime.AgentRuntime"), "the runtime is in " + ARCHIVE);

        // Exactly one copy of each library the agent carries, at its own package: a second copy
        // (another version, or a relocated one) would hold a second entry ending in these paths.
        for (String path : List.of("org/slf4j/Logger.class", "ch/qos/logback/classic/Logger.class",
                "ch/qos/logback/core/Appender.class", "com/sun/jna/Native.class",
                "org/apache/kafka/clients/producer/KafkaProducer.class")) {
            List<String> copies = inner.stream().filter(n -> n.endsWith("/" + path) || n.equals(path)).toList();
            assertEquals(List.of(path), copies, "copies of " + path);
        }

        // More generally: no class is stored again below another package prefix
        // (e.g. x/org/slf4j/Logger next to org/slf4j/Logger).
        Set<String> paths = new HashSet<>();
        for (String c : classNames) {
            paths.add(c.replace('.', '/'));
        }
        TreeMap<String, String> relocated = new TreeMap<>();
        for (String p : paths) {
            for (int slash = p.indexOf('/'); slash >= 0; slash = p.indexOf('/', slash + 1)) {
                String suffix = p.substring(slash + 1);
                // At least two package levels, so that only a copied package tree counts.
                if (suffix.chars().filter(ch -> ch == '/').count() >= 2 && paths.contains(suffix)) {
                    relocated.put(p, suffix);
                }
            }
        }
        assertEquals(new TreeMap<String, String>(), relocated, "classes stored twice under different prefixes");
    }

    @Test
    void noSignatureFiles() {
        List<String> signatures = java.util.stream.Stream.concat(central.stream(), inner.stream())
                .filter(n -> n.matches("(?i)(.*/)?META-INF/[^/]*\\.(SF|RSA|DSA|EC)")).toList();
        assertEquals(List.of(), signatures);
    }

    @Test
    void aClassLoaderOverTheJarFindsTheEntryClassButNoneOfTheAgentsLibraries() throws Exception {
        URL jarUrl = ChildJvm.AGENT_JAR.toUri().toURL();
        try (URLClassLoader loader = new URLClassLoader(new URL[] {jarUrl}, ClassLoader.getPlatformClassLoader())) {
            Class<?> entry = Class.forName(ENTRY, false, loader);
            assertEquals(loader, entry.getClassLoader());
            for (String hidden : List.of("io.btfagent.runtime.AgentRuntime", "com.sun.jna.Native",
                    "ch.qos.logback.classic.Logger", "org.slf4j.Logger", "org.apache.kafka.clients.producer.KafkaProducer")) {
                assertThrows(ClassNotFoundException.class, () -> Class.forName(hidden, false, loader), hidden);
            }
            for (String resource : List.of("META-INF/services/org.slf4j.spi.SLF4JServiceProvider", "logback.xml",
                    "logback-test.xml", "com/sun/jna/linux-x86-64/libjnidispatch.so", "com/sun/jna/Native.class")) {
                assertEquals(List.of(), Collections.list(loader.getResources(resource)), resource);
            }
        }
    }

    @Test
    void disabledAgentPrintsOneLineAndTheApplicationRunsUnchanged() throws Exception {
        String cp = ConflictIT.classpath();
        ChildJvm.Result without = new ChildJvm().classpath(cp).run(APP, List.of(), 60);
        ChildJvm.Result disabled = new ChildJvm().classpath(cp).agent("enabled=false").run(APP, List.of(), 60);

        assertEquals(0, without.exitCode(), without.stderr());
        assertEquals(without.exitCode(), disabled.exitCode(), disabled.stderr());
        assertEquals(without.comparableStdout(), disabled.comparableStdout());
        // the agent starts on its own thread: its line may come before or after the application's
        assertEquals(List.of(DISABLED), disabled.agentLines());
        assertEquals(without.stderr(), disabled.applicationStderr());
        assertTrue(without.stdout().contains("APP INFO ConflictApp - done"), without.stdout());
    }

    @Test
    void aSecondJavaagentOfTheSameJarDoesNothing() throws Exception {
        String cp = ConflictIT.classpath();
        ChildJvm.Result without = new ChildJvm().classpath(cp).run(APP, List.of(), 60);
        ChildJvm.Result twice = new ChildJvm().classpath(cp).agent("enabled=false")
                .jvmArg("-javaagent:" + ChildJvm.AGENT_JAR.toAbsolutePath() + "=enabled=false")
                .run(APP, List.of(), 60);

        assertEquals(0, without.exitCode(), without.stderr());
        assertEquals(without.exitCode(), twice.exitCode(), twice.stderr());
        assertEquals(without.comparableStdout(), twice.comparableStdout());
        assertEquals(List.of(ALREADY, DISABLED), twice.agentLines().stream().sorted().toList());
        assertEquals(without.stderr(), twice.applicationStderr());
    }

    @Test
    void theJarAsACommandPrintsItsHelpWithoutArgumentsAndOneLinePlusHelpForAnUnknownCommand() throws Exception {
        RunningJvm.Command none = RunningJvm.command(ChildJvm.AGENT_JAR);
        assertEquals(0, none.exitCode(), none.stderr());
        assertEquals("", none.stderr());
        for (String command : List.of("doctor", "attach", "status", "detach")) {
            assertTrue(none.stdout().contains("\n  " + command + " "), command + " in:\n" + none.stdout());
        }
        RunningJvm.Command help = RunningJvm.command(ChildJvm.AGENT_JAR, "--help");
        assertEquals(0, help.exitCode());
        assertEquals(none.stdout(), help.stdout());

        RunningJvm.Command unknown = RunningJvm.command(ChildJvm.AGENT_JAR, "nosuch");
        assertEquals(2, unknown.exitCode());
        assertEquals("", unknown.stdout());
        assertEquals("btf-agent: unknown command 'nosuch'\n\n" + none.stdout(), unknown.stderr());
    }

    private static List<String> duplicates(List<String> names) {
        Set<String> seen = new HashSet<>();
        List<String> twice = new ArrayList<>();
        for (String n : names) {
            if (!seen.add(n)) {
                twice.add(n);
            }
        }
        return twice;
    }
}
