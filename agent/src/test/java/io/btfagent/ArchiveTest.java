package io.btfagent;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.URL;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;
import java.util.zip.CRC32;
import java.util.zip.ZipEntry;
import java.util.zip.ZipOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The agent's nested archive, read in place from a jar made here the way the build makes it. */
class ArchiveTest {
    @TempDir
    Path dir;

    private static byte[] zip(Map<String, byte[]> entries, boolean stored, String comment) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        try (ZipOutputStream z = new ZipOutputStream(out)) {
            for (Map.Entry<String, byte[]> e : entries.entrySet()) {
                ZipEntry entry = new ZipEntry(e.getKey());
                if (stored) {
                    CRC32 crc = new CRC32();
                    crc.update(e.getValue());
                    entry.setMethod(ZipEntry.STORED);
                    entry.setSize(e.getValue().length);
                    entry.setCrc(crc.getValue());
                }
                z.putNextEntry(entry);
                z.write(e.getValue());
                z.closeEntry();
            }
            if (comment != null) {
                z.setComment(comment);
            }
        }
        return out.toByteArray();
    }

    private Map<String, byte[]> content() {
        Map<String, byte[]> m = new LinkedHashMap<>();
        byte[] random = new byte[100_000];
        new Random(7).nextBytes(random);
        m.put("a/B.class", "class bytes, compressible ".repeat(500).getBytes(StandardCharsets.UTF_8));
        m.put("a/random.bin", random);
        m.put("empty.txt", new byte[0]);
        m.put("META-INF/services/x.Y", "a.Impl\n".getBytes(StandardCharsets.UTF_8));
        m.put("dir/", new byte[0]);
        return m;
    }

    private Path jar(byte[] archive, boolean stored, String comment) throws IOException {
        Map<String, byte[]> outer = new LinkedHashMap<>();
        outer.put("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\n".getBytes(StandardCharsets.UTF_8));
        outer.put(BtfAgent.Archive.NAME, archive);
        outer.put("io/btfagent/BtfAgent.class", new byte[] {1, 2, 3});
        Path jar = dir.resolve("agent.jar");
        Files.write(jar, zip(outer, stored, comment));
        return jar;
    }

    @Test
    void readsEveryEntryOfTheNestedArchiveStoredOrDeflated() throws IOException {
        Map<String, byte[]> content = content();
        for (boolean innerStored : new boolean[] {false, true}) {
            BtfAgent.Archive a = BtfAgent.Archive.open(jar(zip(content, innerStored, null), true, "a comment"),
                    BtfAgent.Archive.NAME);
            for (Map.Entry<String, byte[]> e : content.entrySet()) {
                assertArrayEquals(e.getValue(), a.read(e.getKey()), e.getKey() + (innerStored ? " stored" : " deflated"));
            }
            assertNull(a.read("a/Missing.class"));
            assertNull(a.read("io/btfagent/BtfAgent.class"), "an entry of the outer jar, not of the archive");
        }
    }

    @Test
    void urlsOfEntriesReadTheirContent() throws IOException {
        Map<String, byte[]> content = content();
        BtfAgent.Archive a = BtfAgent.Archive.open(jar(zip(content, false, null), true, null), BtfAgent.Archive.NAME);
        URL u = a.url("META-INF/services/x.Y");
        assertNotNull(u);
        assertEquals("btf-agent", u.getProtocol());
        try (InputStream in = u.openStream()) {
            assertEquals("a.Impl\n", new String(in.readAllBytes(), StandardCharsets.UTF_8));
        }
        assertEquals(100_000, a.url("a/random.bin").openConnection().getContentLengthLong());
        assertNull(a.url("nothing/here"));
    }

    @Test
    void refusesACompressedArchiveAJarWithoutOneAndAFileThatIsNoZip() throws IOException {
        byte[] archive = zip(content(), false, null);
        Path deflated = jar(archive, false, null);
        IOException e = assertThrows(IOException.class, () -> BtfAgent.Archive.open(deflated, BtfAgent.Archive.NAME));
        assertTrue(e.getMessage().contains("is compressed"), e.getMessage());

        Path stored = jar(archive, true, null);
        e = assertThrows(IOException.class, () -> BtfAgent.Archive.open(stored, "other.jar"));
        assertTrue(e.getMessage().endsWith("has no other.jar: not a btf-agent jar, or a damaged one"), e.getMessage());

        Path text = dir.resolve("text.jar");
        Files.writeString(text, "not a zip at all, though long enough to hold an end record");
        e = assertThrows(IOException.class, () -> BtfAgent.Archive.open(text, BtfAgent.Archive.NAME));
        assertEquals(text + " is not a zip archive (no end record)", e.getMessage());
    }

    @Test
    void aReadByAnInterruptedThreadWorksAndLeavesTheArchiveOpen() throws IOException {
        // application threads load agent classes (the woven advice), interrupted or not
        Map<String, byte[]> content = content();
        BtfAgent.Archive a = BtfAgent.Archive.open(jar(zip(content, false, null), true, null), BtfAgent.Archive.NAME);
        Thread.currentThread().interrupt();
        try {
            assertArrayEquals(content.get("a/B.class"), a.read("a/B.class"));
        } finally {
            assertTrue(Thread.interrupted(), "the interrupt is left for its owner");
        }
        assertArrayEquals(content.get("a/random.bin"), a.read("a/random.bin"));
    }

    @Test
    void aJarOverwrittenInPlaceAfterItWasOpenedFailsAReadInsteadOfFaulting() throws IOException {
        Map<String, byte[]> content = content();
        Path jar = jar(zip(content, false, null), true, null);
        BtfAgent.Archive a = BtfAgent.Archive.open(jar, BtfAgent.Archive.NAME);
        assertArrayEquals(content.get("a/random.bin"), a.read("a/random.bin"));
        // as `cp other.jar agent.jar` does: same inode, shorter content
        try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(jar,
                java.nio.file.StandardOpenOption.WRITE)) {
            ch.truncate(200);
        }
        IOException e = assertThrows(IOException.class, () -> a.read("a/random.bin"));
        assertTrue(e.getMessage().contains("changed since"), e.getMessage());
    }

    @Test
    void aTruncatedArchiveIsRefusedWithACauseNotAnException() throws IOException {
        byte[] archive = zip(content(), false, null);
        byte[] cut = java.util.Arrays.copyOf(archive, archive.length - 30);
        Path jar = jar(cut, true, null);
        IOException e = assertThrows(IOException.class, () -> BtfAgent.Archive.open(jar, BtfAgent.Archive.NAME));
        assertTrue(e.getMessage().startsWith(jar + "!/" + BtfAgent.Archive.NAME + " "), e.getMessage());
    }
}
