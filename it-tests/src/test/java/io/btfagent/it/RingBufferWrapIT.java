package io.btfagent.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.jna.Memory;
import io.btfagent.bpf.BpfObject;
import io.btfagent.bpf.RingBuffer;
import io.btfagent.bpf.internal.Libbpf;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * The agent's ring reader on records the kernel wrote that wrap the end of the ring's data area:
 * read in place where the mapped part of the area's second copy holds them, handed over from a
 * copy where it does not ({@code wrapBytes} 0 maps none of it). {@code bench_ring.bpf.c}, run
 * through BPF_PROG_TEST_RUN, writes records whose first word is their index in the run and whose other bytes
 * are the per-CPU {@code payload} value this test sets; every record must arrive whole, in order.
 */
@Privileged
class RingBufferWrapIT {
    private static final int MAX_SIZE = 256; // bench_ring.bpf.c's
    private static final String KERNEL_BTF = "/sys/kernel/btf/vmlinux";

    @TempDir
    static Path natives;

    private static byte[] object;

    @BeforeAll
    static void bindTheAgentsLibbpf() throws IOException {
        Path libbpf = natives.resolve("libbpf.so");
        Files.write(libbpf, resource("io/btfagent/natives/libbpf.so"));
        Libbpf.bind(libbpf.toString());
        object = resource("io/btfagent/bpf/bench_ring.bpf.o");
    }

    @ParameterizedTest(name = "ring of {0} B, {1} B records, {2} B of the second copy mapped")
    @CsvSource({"16384, 200, 0", "16384, 256, 0", "16384, 200, 4096", "131072, 200, 0", "131072, 252, 65536"})
    void everyRecordArrivesWholeAndInOrder(int ringBytes, int size, long wrapBytes) throws Exception {
        byte[] pattern = new byte[MAX_SIZE];
        for (int i = 0; i < MAX_SIZE; i++) {
            pattern[i] = (byte) (i * 7 + 3);
        }
        int slot = ((size + 7) & ~7) + 8;
        int perFill = 19; // not a divisor of the ring: each lap wraps at another offset
        int fills = 3 * ringBytes / (perFill * slot) + 1; // three laps
        try (RingBuffer ring = RingBuffer.create("wrap_ring", ringBytes, wrapBytes);
                BpfObject obj = BpfObject.open("bench_ring", object, KERNEL_BTF)) {
            obj.reuseMap("events", ring.fd());
            obj.load();
            setPayload(obj.mapFd("payload"), pattern);
            List<String> wrong = new ArrayList<>();
            int[] seen = {0};
            long straddled = 0;
            long pos = 0;
            for (int f = 0; f < fills; f++) {
                Memory ctx = new Memory(12);
                ctx.clear();
                ctx.setInt(0, perFill);
                ctx.setInt(4, size);
                obj.testRun("ring_fill", ctx);
                assertEquals(perFill, ctx.getInt(8), "records the producer wrote");
                for (int r = 0; r < perFill; r++, pos += slot) {
                    if (pos % ringBytes + 8 + size > ringBytes) {
                        straddled++;
                    }
                }
                int n = ring.consume((ByteBuffer area, int at, int len) -> {
                    byte[] got = new byte[len];
                    area.get(at, got);
                    byte[] want = pattern.clone();
                    ByteBuffer.wrap(want).order(java.nio.ByteOrder.LITTLE_ENDIAN).putInt(0, seen[0] % perFill);
                    if ((len != size || !java.util.Arrays.equals(got, 0, len, want, 0, size)) && wrong.size() < 5) {
                        wrong.add("record " + seen[0] + ": " + len + " bytes, first word "
                                + ByteBuffer.wrap(got).order(java.nio.ByteOrder.LITTLE_ENDIAN).getInt(0));
                    }
                    seen[0]++;
                });
                assertEquals(perFill, n, "records read after fill " + f);
            }
            assertEquals(List.of(), wrong);
            assertEquals(fills * perFill, seen[0]);
            assertTrue(straddled >= 2, "records that wrapped the end: " + straddled);
            assertEquals(0, ring.pending(), "bytes left in the ring");
        }
    }

    /** Sets the per-CPU {@code payload} value (key 0) to {@code pattern} on every CPU. */
    private static void setPayload(int fd, byte[] pattern) {
        int cpus = Libbpf.libbpf_num_possible_cpus();
        Memory key = new Memory(4);
        key.setInt(0, 0);
        Memory values = new Memory((long) cpus * pattern.length);
        for (int c = 0; c < cpus; c++) {
            values.write((long) c * pattern.length, pattern, 0, pattern.length);
        }
        assertEquals(0, Libbpf.bpf_map_update_elem(fd, key, values, 0), "payload update");
        assertArrayEquals(pattern, values.getByteArray(0, pattern.length));
    }

    private static byte[] resource(String name) throws IOException {
        try (InputStream in = RingBufferWrapIT.class.getClassLoader().getResourceAsStream(name)) {
            if (in == null) {
                throw new IOException(name + " is not on the test class path");
            }
            return in.readAllBytes();
        }
    }
}
