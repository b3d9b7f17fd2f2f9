package io.btfagent.files;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;

import io.btfagent.btf.BtfFile;
import io.btfagent.elf.ElfFile;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class BoundedFileTest {
    @TempDir
    Path dir;

    @Test
    void aDeviceIsRefusedByItsKindWithoutReading() {
        IOException e = assertThrows(IOException.class, () -> BoundedFile.read(Path.of("/dev/zero"), 1 << 20, "kernel BTF"));
        assertEquals("kernel BTF /dev/zero is a character device, not a regular file", e.getMessage());
    }

    @Test
    void aFifoIsRefusedWithoutOpeningIt() throws Exception {
        Path fifo = dir.resolve("fifo");
        assertEquals(0, new ProcessBuilder("mkfifo", fifo.toString()).start().waitFor());
        IOException e = assertTimeoutPreemptively(Duration.ofSeconds(10),
                () -> assertThrows(IOException.class, () -> BoundedFile.read(fifo, 1 << 20, "config file")));
        assertEquals("config file " + fifo + " is a FIFO, not a regular file", e.getMessage());
        IOException elf = assertTimeoutPreemptively(Duration.ofSeconds(10),
                () -> assertThrows(IOException.class, () -> ElfFile.open(fifo)));
        assertEquals("ELF file " + fifo + " is a FIFO, not a regular file", elf.getMessage());
    }

    @Test
    void aFileOverItsBoundIsRefusedNamingSizeAndBound() throws IOException {
        Path big = dir.resolve("big");
        try (RandomAccessFile f = new RandomAccessFile(big.toFile(), "rw")) {
            f.setLength(5L << 30); // sparse: 5 GiB of nothing
        }
        IOException e = assertThrows(IOException.class, () -> BoundedFile.read(big, 64 << 20, "kernel BTF"));
        assertEquals("kernel BTF " + big + " is 5368709120 bytes, more than the bound of 67108864 bytes", e.getMessage());
    }

    @Test
    void theHeaderIsCheckedBeforeTheRestIsRead() throws IOException {
        Path text = Files.writeString(dir.resolve("passwd"), "root:x:0:0:root:/root:/bin/bash\n");
        IOException e = assertThrows(IOException.class,
                () -> BoundedFile.read(text, 1 << 20, "kernel BTF", BtfFile.HEADER_BYTES, BtfFile::declaredLength));
        assertEquals("kernel BTF " + text + " is not BTF (its first bytes are not the BTF magic 0xeb9f)", e.getMessage());
        // a header declaring 4 GiB of sections is refused before any buffer of that size
        byte[] head = {(byte) 0x9f, (byte) 0xeb, 1, 0, 24, 0, 0, 0, 0, 0, 0, 0, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0};
        Path liar = Files.write(dir.resolve("liar.btf"), head);
        e = assertThrows(IOException.class,
                () -> BoundedFile.read(liar, 1 << 20, "kernel BTF", BtfFile.HEADER_BYTES, BtfFile::declaredLength));
        assertEquals("kernel BTF " + liar + " declares 4294967319 bytes, more than the bound of 1048576 bytes",
                e.getMessage());
    }

    @Test
    void aFileWithinItsBoundIsReadWhole() throws IOException {
        byte[] bytes = new byte[100_000];
        for (int i = 0; i < bytes.length; i++) {
            bytes[i] = (byte) (i * 31);
        }
        Path f = Files.write(dir.resolve("ok"), bytes);
        assertArrayEquals(bytes, BoundedFile.read(f, bytes.length, "config file"));
        assertThrows(IOException.class, () -> BoundedFile.read(f, bytes.length - 1, "config file"));
    }

    @Test
    void aFileThatGrowsWhileReadStopsAtTheBound() throws Exception {
        Path f = Files.write(dir.resolve("growing"), new byte[1000]);
        Thread writer = new Thread(() -> {
            try (var out = Files.newOutputStream(f, java.nio.file.StandardOpenOption.APPEND)) {
                byte[] chunk = new byte[1 << 16];
                for (int i = 0; i < 1000 && !Thread.currentThread().isInterrupted(); i++) {
                    out.write(chunk);
                }
            } catch (IOException ignored) {
                // the test ends
            }
        });
        writer.start();
        try {
            // whatever the interleaving: either the bytes so far (within the bound) or a refusal
            for (int i = 0; i < 50; i++) {
                try {
                    byte[] got = BoundedFile.read(f, 4 << 20, "config file");
                    assertEquals(true, got.length <= 4 << 20);
                } catch (IOException e) {
                    assertEquals(true, e.getMessage().startsWith("config file " + f + " "), e.getMessage());
                }
            }
        } finally {
            writer.interrupt();
            writer.join();
        }
    }

    @Test
    void onlyWhatTheHeaderDeclaresIsRead() throws IOException {
        byte[] btf = {(byte) 0x9f, (byte) 0xeb, 1, 0, 24, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 7};
        byte[] withTail = java.util.Arrays.copyOf(btf, btf.length + 100_000); // appended after the BTF
        Path f = Files.write(dir.resolve("tail.btf"), withTail);
        assertArrayEquals(btf, BoundedFile.read(f, 1 << 20, "kernel BTF", BtfFile.HEADER_BYTES, BtfFile::declaredLength));
        // one that declares more than it holds is read to its end, the parser then names it truncated
        Path shortOne = Files.write(dir.resolve("short.btf"), java.util.Arrays.copyOf(btf, 24));
        assertEquals(24, BoundedFile.read(shortOne, 1 << 20, "kernel BTF", BtfFile.HEADER_BYTES,
                BtfFile::declaredLength).length);
    }
}
