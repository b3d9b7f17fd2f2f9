package io.btfagent.setup;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * The project is Apache-2.0; the BPF C is (GPL-2.0-only OR BSD-2-Clause), which its objects
 * declare to the kernel as "Dual BSD/GPL" (GPL-compatible, as its GPL-only helpers require).
 * Every SPDX line of the checkout, the license strings of the sources and of the compiled
 * objects, and the README must say so.
 */
class LicenseTest {
    private static final Path CHECKOUT = Path.of("..").toAbsolutePath().normalize();
    private static final Path BPF_SOURCES = CHECKOUT.resolve("bpf/src/main/bpf");
    private static final String BPF_SPDX = "(GPL-2.0-only OR BSD-2-Clause)";
    private static final String KERNEL_LICENSE = "Dual BSD/GPL";
    private static final Pattern SPDX = Pattern.compile("SPDX-License-Identifier: (.*?)\\s*(\\*/)?$");

    @Test
    void theProjectIsApache2() throws IOException {
        List<String> license = Files.readAllLines(CHECKOUT.resolve("LICENSE"));
        assertEquals("Apache License", license.get(1).strip());
        assertEquals("Version 2.0, January 2004", license.get(2).strip());
        String readme = Files.readString(CHECKOUT.resolve("README.md"));
        assertTrue(readme.contains("Apache-2.0") && readme.contains(BPF_SPDX) && readme.contains(KERNEL_LICENSE),
                "the README names both licences");
    }

    @Test
    void everySpdxLineAgreesWithWhereTheFileIs() throws IOException {
        List<String> wrong = new ArrayList<>();
        int bpf = 0;
        for (Path f : sources()) {
            String rel = CHECKOUT.relativize(f).toString();
            String expected = f.startsWith(BPF_SOURCES) ? BPF_SPDX
                    // linked into the bundled libbpf: libbpf's own licence
                    : rel.startsWith("native-targets/libbpf/") ? "(LGPL-2.1 OR BSD-2-Clause)"
                    : "Apache-2.0";
            String id = spdx(f);
            if (f.startsWith(BPF_SOURCES)) {
                bpf++;
                if (id == null) {
                    wrong.add(rel + ": no SPDX line");
                    continue;
                }
            }
            if (id != null && !id.equals(expected)) {
                wrong.add(rel + ": " + id + ", want " + expected);
            }
        }
        assertTrue(bpf >= 3, "BPF sources found: " + bpf);
        assertEquals(List.of(), wrong);
    }

    /** The checkout's files, without .git and build output. */
    private static List<Path> sources() throws IOException {
        List<Path> found = new ArrayList<>();
        Files.walkFileTree(CHECKOUT, new SimpleFileVisitor<>() {
            @Override
            public FileVisitResult preVisitDirectory(Path dir, BasicFileAttributes attrs) {
                String name = dir.getFileName().toString();
                return name.equals(".git") || name.equals("target") ? FileVisitResult.SKIP_SUBTREE : FileVisitResult.CONTINUE;
            }

            @Override
            public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) {
                if (attrs.isRegularFile()) {
                    found.add(file);
                }
                return FileVisitResult.CONTINUE;
            }
        });
        return found;
    }

    /** The identifier of a file's SPDX line within its first lines, or null. */
    private static String spdx(Path f) throws IOException {
        byte[] head;
        try (InputStream in = Files.newInputStream(f)) {
            head = in.readNBytes(512);
        }
        for (String line : new String(head, StandardCharsets.ISO_8859_1).lines().limit(3).toList()) {
            Matcher m = SPDX.matcher(line);
            if (m.find()) {
                return m.group(1);
            }
        }
        return null;
    }

    @Test
    void everyBpfProgramDeclaresTheSameLicenceToTheKernel() throws IOException {
        List<Path> programs;
        try (Stream<Path> s = Files.list(BPF_SOURCES)) {
            programs = s.filter(p -> p.toString().endsWith(".bpf.c")).sorted().toList();
        }
        assertTrue(programs.size() >= 3, programs.toString());
        for (Path p : programs) {
            assertTrue(Files.readString(p).contains("char LICENSE[] SEC(\"license\") = \"" + KERNEL_LICENSE + "\";"), p.toString());
            String object = p.getFileName().toString().replace(".bpf.c", ".bpf.o");
            assertEquals(KERNEL_LICENSE, licenseSection("/io/btfagent/bpf/" + object), object);
        }
    }

    /** The NUL-terminated string of the "license" section of a BPF object (ELF64, little endian). */
    private static String licenseSection(String resource) throws IOException {
        byte[] elf;
        try (InputStream in = LicenseTest.class.getResourceAsStream(resource)) {
            assertNotNull(in, resource + " on the test class path (the bpf module's artifact)");
            elf = in.readAllBytes();
        }
        ByteBuffer b = ByteBuffer.wrap(elf).order(ByteOrder.LITTLE_ENDIAN);
        assertEquals(0x464c457f, b.getInt(0), "ELF magic");
        long shoff = b.getLong(0x28);
        int shentsize = Short.toUnsignedInt(b.getShort(0x3a));
        int shnum = Short.toUnsignedInt(b.getShort(0x3c));
        int shstrndx = Short.toUnsignedInt(b.getShort(0x3e));
        long names = b.getLong((int) (shoff + (long) shstrndx * shentsize) + 0x18);
        for (int i = 0; i < shnum; i++) {
            int sh = (int) (shoff + (long) i * shentsize);
            if (cString(elf, (int) (names + Integer.toUnsignedLong(b.getInt(sh)))).equals("license")) {
                return cString(elf, (int) b.getLong(sh + 0x18));
            }
        }
        throw new AssertionError(resource + " has no license section");
    }

    private static String cString(byte[] b, int at) {
        int end = at;
        while (b[end] != 0) {
            end++;
        }
        return new String(b, at, end - at, StandardCharsets.US_ASCII);
    }
}
