package io.btfagent.elf;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.btfagent.testing.Fixtures;
import io.btfagent.testing.FuzzBounds;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The ELF reader on what any file may hold: {@link ElfFile#of}/{@link ElfFile#open} may refuse
 * it with an {@link IOException}; every question asked afterwards answers (maybe empty) and
 * throws nothing. Seeds: the fake libssl and libcrypto fixtures ({@code ElfFileFuzzTestInputs});
 * {@link #realLibrariesAnswerWithinTheirBounds} runs the same questions on the Debian builds
 * the integration tests fetched and on netty-tcnative's BoringSSL library in the local Maven
 * repository, when they are there.
 */
class ElfFileFuzzTest {
    private static final Pattern OPENSSL_VERSION = Pattern.compile("OpenSSL (\\d+\\.\\d+\\.\\d+[a-z]*) ");
    private static final Set<String> FUNCTIONS = Set.of("SSL_read", "SSL_write", "SSL_free", "JNI_OnLoad");

    @FuzzTest(maxDuration = "3m")
    void elfFile(byte[] data) throws Exception {
        // sections are copied at most once each; a window of read-only data is 1 MiB (2 as a String)
        FuzzBounds.within("ElfFile", 16L * data.length + (4 << 20), 5_000, () -> {
            ElfFile elf;
            try {
                elf = ElfFile.of(data, "fuzz");
            } catch (IOException refused) {
                return;
            }
            askEverything(elf);
        });
    }

    static void askEverything(ElfFile elf) {
        elf.buildId();
        elf.dynamicSymbols();
        elf.hasStaticSymbolTable();
        elf.symbolValue("max_capture");
        for (String f : FUNCTIONS) {
            elf.function(f);
        }
        elf.functionFileOffsets(FUNCTIONS);
        elf.findString(OPENSSL_VERSION);
        elf.section(".BTF");
        elf.close();
    }

    @Test
    void realLibrariesAnswerWithinTheirBounds() throws Exception {
        Path cache = Path.of(System.getProperty("user.home"), ".cache", "btf-agent", "libs");
        assumeTrue(Files.isDirectory(cache), "no Debian library builds fetched at " + cache);
        List<Path> libs;
        try (Stream<Path> s = Files.walk(cache)) {
            libs = s.filter(Files::isRegularFile).filter(p -> p.getFileName().toString().contains(".so")).toList();
        }
        for (Path lib : libs) {
            // never the whole file: its sections, each read once, and 1 MiB windows of read-only data
            FuzzBounds.within(lib.toString(), Files.size(lib) + (8 << 20), 10_000, () -> {
                try (ElfFile elf = ElfFile.open(lib)) {
                    askEverything(elf);
                }
            });
        }
        // netty-tcnative's BoringSSL, as netty would extract it from its jar in the local Maven repository
        Path netty = Path.of(System.getProperty("user.home"), ".m2", "repository", "io", "netty",
                "netty-tcnative-boringssl-static");
        if (Files.isDirectory(netty)) {
            List<Path> jars;
            try (Stream<Path> s = Files.walk(netty)) {
                jars = s.filter(p -> p.getFileName().toString().endsWith("-linux-x86_64.jar")).toList();
            }
            for (Path jar : jars) {
                try (java.util.jar.JarFile j = new java.util.jar.JarFile(jar.toFile())) {
                    var entry = j.getJarEntry("META-INF/native/libnetty_tcnative_linux_x86_64.so");
                    if (entry == null) {
                        continue;
                    }
                    byte[] so;
                    try (var in = j.getInputStream(entry)) {
                        so = in.readAllBytes();
                    }
                    FuzzBounds.within(jar + "!" + entry.getName(), 2L * so.length + (8 << 20), 10_000,
                            () -> askEverything(ElfFile.of(so, entry.getName())));
                }
            }
        }
        FuzzBounds.within("the BPF object", 1 << 24, 10_000,
                () -> askEverything(ElfFile.of(Fixtures.bytes(Fixtures.BPF_OBJECT_RESOURCE), "object")));
    }
}
