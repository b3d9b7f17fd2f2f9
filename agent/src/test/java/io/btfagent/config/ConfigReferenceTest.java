package io.btfagent.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;

/**
 * docs/configuration.md holds the table {@link ConfigReference} makes from ConfigKeys.java: the
 * page and the code cannot drift apart. {@code mvn test -Dtest=ConfigReferenceTest
 * -Ddocs.update=true} writes the table into the page instead of failing.
 */
class ConfigReferenceTest {
    private static final Path PAGE = Path.of("..", "docs", "configuration.md");

    @Test
    void everyKeyIsDescribed() {
        for (ConfigKey k : ConfigKeys.all().values()) {
            assertTrue(k.description() != null && !k.description().isBlank(), k.name() + " has no describe(...)");
        }
    }

    @Test
    void thePageHoldsTheTableOfTheCode() throws IOException {
        String page = Files.readString(PAGE, StandardCharsets.UTF_8);
        int begin = page.indexOf(ConfigReference.BEGIN);
        int end = page.indexOf(ConfigReference.END);
        assertTrue(begin >= 0 && end > begin, PAGE + " lacks the generated table's markers");
        String expected = page.substring(0, begin + ConfigReference.BEGIN.length()) + "\n" + ConfigReference.table()
                + page.substring(end);
        if (Boolean.getBoolean("docs.update")) {
            Files.writeString(PAGE, expected, StandardCharsets.UTF_8);
        }
        assertEquals(expected, Files.readString(PAGE, StandardCharsets.UTF_8),
                "docs/configuration.md differs from ConfigKeys.java: run mvn test -pl agent -Dtest=ConfigReferenceTest "
                        + "-Ddocs.update=true");
    }
}
