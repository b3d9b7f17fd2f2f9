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
}
