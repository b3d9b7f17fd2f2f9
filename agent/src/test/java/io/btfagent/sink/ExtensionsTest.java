package io.btfagent.sink;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;

import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.jar.JarOutputStream;
import java.util.zip.ZipEntry;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ExtensionsTest {
    @TempDir
    Path dir;

    private final List<String> problems = new ArrayList<>();
    private final ClassLoader agent = ExtensionsTest.class.getClassLoader();

    private Path jar(String name, String mode) throws Exception {
        Path jar = dir.resolve(name);
        try (JarOutputStream out = new JarOutputStream(Files.newOutputStream(jar))) {
            out.putNextEntry(new ZipEntry("marker.txt"));
            out.write("x".getBytes());
        }
        Files.setPosixFilePermissions(jar, PosixFilePermissions.fromString(mode));
        return jar;
    }

    @Test
    void usableJarsGetALoaderOfTheirOwnUnderTheAgentsLoader() throws Exception {
        Path a = jar("a.jar", "rw-r--r--");
        ClassLoader l = Extensions.loader(" " + a + " ,", agent, problems::add);
        assertEquals(URLClassLoader.class, l.getClass());
        assertSame(agent, l.getParent());
        assertEquals(a.toUri().toURL(), ((URLClassLoader) l).getURLs()[0]);
        assertEquals(List.of(), problems);
    }

    @Test
    void missingAndWritableByOthersAreOneLineEachAndTheRestIsUsed() throws Exception {
        Path good = jar("good.jar", "rw-------");
        Path writable = jar("w.jar", "rw-rw-r--");
        Path missing = dir.resolve("missing.jar");
        ClassLoader l = Extensions.loader(missing + "," + writable + "," + good, agent, problems::add);
        assertEquals(List.of(good.toUri().toURL()), List.of(((URLClassLoader) l).getURLs()));
        assertEquals(List.of("extension " + missing + " not loaded: no such file",
                "extension " + writable + " not loaded: " + writable
                        + " is writable by group or others (mode 0664); chmod go-w it"), problems);
    }

    @Test
    void noExtensionsMeansTheAgentsLoader() {
        assertSame(agent, Extensions.loader(null, agent, problems::add));
        assertSame(agent, Extensions.loader("", agent, problems::add));
        assertEquals(List.of(), problems);
    }

    @Test
    void aFifoOrAFileThatIsNotAJarIsOneLineWithoutOpeningIt() throws Exception {
        Path fifo = dir.resolve("fifo.jar");
        assertEquals(0, new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor());
        Path text = Files.writeString(dir.resolve("text.jar"), "not a jar\n");
        ClassLoader l = Extensions.loader(fifo + "," + text, agent, problems::add);
        assertSame(agent, l);
        assertEquals(List.of("extension " + fifo + " not loaded: extension jar " + fifo + " is a FIFO, not a regular file",
                "extension " + text + " not loaded: extension jar " + text + " is not a jar (no zip signature)"), problems);
    }
}
