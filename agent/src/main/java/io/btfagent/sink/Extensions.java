package io.btfagent.sink;

import io.btfagent.files.BoundedFile;
import io.btfagent.files.SafeFile;
import java.io.IOException;
import java.net.URL;
import java.net.URLClassLoader;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Consumer;

/**
 * The jars of {@code extensions=} (third-party sinks), loaded by a class loader of their own
 * whose parent is the agent's isolated loader: they see the sink SPI and nothing of the
 * application, and the application does not see them.
 *
 * <p>Their code runs with the JVM's privileges, so a jar is used only when it and every
 * directory above it can be changed by no one but root or this user (the rules of
 * {@link SafeFile}).
 */
public final class Extensions {
    private Extensions() {
    }

    /**
     * @param value {@code extensions}: jar paths separated by commas
     * @return {@code agentLoader} itself when no jar is usable
     */
    public static ClassLoader loader(String value, ClassLoader agentLoader, Consumer<String> problems) {
        List<URL> urls = new ArrayList<>();
        if (value != null) {
            for (String s : value.split(",")) {
                if (s.isBlank()) {
                    continue;
                }
                Path jar = Path.of(s.trim()).toAbsolutePath().normalize();
                try {
                    check(jar);
                    urls.add(jar.toUri().toURL());
                } catch (IOException e) {
                    problems.accept("extension " + jar + " not loaded: " + e.getMessage());
                }
            }
        }
        if (urls.isEmpty()) {
            return agentLoader;
        }
        return new URLClassLoader("btf-agent-extensions", urls.toArray(new URL[0]), agentLoader);
    }

    private static void check(Path jar) throws IOException {
        if (!Files.exists(jar)) {
            throw new IOException("no such file");
        }
        SafeFile.checkTrusted(jar);
        // the class loader reads it lazily: refuse what is not a jar before it ever opens it
        BoundedFile.check(jar, EXTENSION_JAR_BOUND, "extension jar", 4, head -> {
            if (head[0] != 'P' || head[1] != 'K' || head[2] != 3 || head[3] != 4) {
                throw new IOException("is not a jar (no zip signature)");
            }
            return -1;
        });
    }

    /** The largest extension jar used: a sink with its dependencies shaded in is a few MiB. */
    static final long EXTENSION_JAR_BOUND = 256L << 20;

}
