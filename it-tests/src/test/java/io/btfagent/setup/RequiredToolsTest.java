package io.btfagent.setup;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The list of required tools (native-targets/bin/required-tools.tsv) and its two checks: the
 * build's scan of the checkout (check-tools.sh) and the scripts' own run-time check
 * (need_tools in tools.sh). Runs the real scripts on the real checkout and on small trees made
 * here; needs only bash and Debian's essential tools.
 */
class RequiredToolsTest {
    private static final Path BIN = Path.of("..", "native-targets", "bin").toAbsolutePath().normalize();
    private static final Path LIST = BIN.resolve("required-tools.tsv");

    @TempDir
    Path tmp;

    record Run(int exit, String out, String err) {
    }

    private static Run bash(Path dir, String... args) throws IOException, InterruptedException {
        Path out = Files.createTempFile("tools", ".out");
        Path err = Files.createTempFile("tools", ".err");
        try {
            List<String> cmd = new java.util.ArrayList<>(List.of("bash"));
            cmd.addAll(List.of(args));
            Process p = new ProcessBuilder(cmd).directory(dir.toFile())
                    .redirectOutput(out.toFile()).redirectError(err.toFile()).start();
            if (!p.waitFor(60, TimeUnit.SECONDS)) {
                p.destroyForcibly().waitFor();
                throw new AssertionError(cmd + " did not finish in 60 s");
            }
            return new Run(p.exitValue(), Files.readString(out, StandardCharsets.UTF_8),
                    Files.readString(err, StandardCharsets.UTF_8));
        } finally {
            Files.deleteIfExists(out);
            Files.deleteIfExists(err);
        }
    }

    /** A checkout of its own: the real list and scripts of native-targets/bin, plus {@code files}. */
    private Path tree(String... pathsAndTexts) throws IOException {
        Path root = tmp.resolve("checkout");
        Path bin = Files.createDirectories(root.resolve("native-targets/bin"));
        for (String f : List.of("required-tools.tsv", "tools.sh", "check-tools.sh")) {
            Files.copy(BIN.resolve(f), bin.resolve(f));
        }
        for (int i = 0; i < pathsAndTexts.length; i += 2) {
            Path p = root.resolve(pathsAndTexts[i]);
            Files.createDirectories(p.getParent());
            Files.writeString(p, pathsAndTexts[i + 1]);
        }
        return root;
    }

    private Run checkTools(Path checkout) throws IOException, InterruptedException {
        return bash(checkout, "native-targets/bin/check-tools.sh", checkout.toString());
    }

    @Test
    void everyToolTheCheckoutNamesIsListed() throws Exception {
        Path checkout = BIN.getParent().getParent();
        Run r = checkTools(checkout);
        assertEquals(0, r.exit(), r.err());
        assertTrue(r.out().matches("(?s)check-tools: \\d+ commands listed; \\d+ uses in \\d+ files are all listed\\n"), r.out());
        // bpftool was once used without being installed: it must stay listed, with its package.
        assertTrue(Files.readAllLines(LIST).contains("bpftool\tbpftool\tgen-*-btf.sh, prove-offsets.sh (BTF dump)"));
    }

    @Test
    void aScriptsUnlistedToolFailsTheCheck() throws Exception {
        Path checkout = tree("native-targets/bin/new.sh", "#!/bin/bash\nneed_tools gcc frobnicate \\\n    wibble \"$x\"\n");
        Run r = checkTools(checkout);
        assertEquals(1, r.exit(), r.out());
        assertTrue(r.err().contains("native-targets/bin/new.sh:2: frobnicate is not in native-targets/bin/required-tools.tsv"), r.err());
        assertTrue(r.err().contains("native-targets/bin/new.sh:2: wibble is not in"), r.err());
        assertTrue(r.err().contains("check-tools: 2 problem(s)"), r.err());
    }

    @Test
    void aToolCheckedAroundTheListFailsTheCheck() throws Exception {
        Path checkout = tree("it-tests/x.sh", "#!/bin/bash\ncommand -v gcc >/dev/null || exit 1\n");
        Run r = checkTools(checkout);
        assertEquals(1, r.exit(), r.out());
        assertTrue(r.err().contains("it-tests/x.sh:2: checks a tool with command -v; use need_tools"), r.err());
    }

    @Test
    void aJavaTestsOrMavenBuildsUnlistedCommandFailsTheCheck() throws Exception {
        Path checkout = tree(
                "it-tests/src/test/java/X.java", "class X {\n  void a() throws Exception {\n"
                        + "    new ProcessBuilder(\"frobnicate\", \"x\").start();\n"
                        + "    run(List.of(\"wibble\", \"--flag\"));\n    run(\"readelf\", \"-n\");\n  }\n}\n",
                "bpf/pom.xml", "<project>\n<executable>gizmo</executable>\n<executable>${clang}</executable>\n</project>\n");
        Run r = checkTools(checkout);
        assertEquals(1, r.exit(), r.out());
        assertTrue(r.err().contains("it-tests/src/test/java/X.java:3: frobnicate is not in"), r.err());
        assertTrue(r.err().contains("it-tests/src/test/java/X.java:4: wibble is not in"), r.err());
        assertTrue(r.err().contains("bpf/pom.xml:2: gizmo is not in"), r.err());
        assertTrue(r.err().contains("check-tools: 3 problem(s)"), r.err());
    }

    @Test
    void aMalformedListFailsTheCheck() throws Exception {
        Path checkout = tree();
        Files.writeString(checkout.resolve("native-targets/bin/required-tools.tsv"),
                "# comment\ngcc\tgcc\tbuild\nbpftool bpftool\ngcc\tgcc\tagain\n");
        Run r = checkTools(checkout);
        assertEquals(1, r.exit(), r.out());
        assertTrue(r.err().contains("required-tools.tsv:3: want 'command<TAB>package<TAB>used by'"), r.err());
        assertTrue(r.err().contains("required-tools.tsv:4: gcc is listed twice"), r.err());
    }

    @Test
    void needToolsRefusesAnUnlistedToolEvenWhereItIsInstalled() throws Exception {
        // cat is on every machine, and deliberately not listed
        Run r = bash(tmp, "-c", ". '" + BIN.resolve("tools.sh") + "'; need_tools gcc cat; echo reached");
        assertEquals(1, r.exit(), r.out());
        assertEquals("", r.out());
        assertTrue(r.err().contains("tool cat is not listed in " + LIST + "; add it there with its Debian package"), r.err());
    }

    @Test
    void needToolsNamesThePackageOfAMissingTool() throws Exception {
        Path checkout = tree();
        Files.writeString(checkout.resolve("native-targets/bin/required-tools.tsv"),
                "frobnicate-btf-agent-test\tfrobnicator\ttest\n");
        Run r = bash(tmp, "-c", "die() { echo \"mine: $*\" >&2; exit 7; }; . '"
                + checkout.resolve("native-targets/bin/tools.sh") + "'; need_tools frobnicate-btf-agent-test; echo reached");
        assertEquals(7, r.exit(), r.out());
        assertEquals("mine: missing tool: frobnicate-btf-agent-test (Debian package frobnicator; "
                + "bash native-targets/bin/setup-host.sh installs it)\n", r.err());
    }
}
