package io.btfagent.bench;

import com.sun.jna.Memory;
import io.btfagent.bpf.BpfObject;
import io.btfagent.bpf.RingBuffer;
import java.util.Arrays;

/**
 * The agent's ring reader alone ({@link RingBuffer#consume}, the code the agent's reader thread
 * runs), on records the kernel wrote: {@code bench_ring.bpf.c}, run through BPF_PROG_TEST_RUN,
 * fills a ring buffer mapped by {@link RingBuffer} with records of a given size while nothing
 * reads; then one thread consumes all of them, timed. The handler touches each record's first
 * word (what a decoder does first), so records/s is what the reader can hand on, on one core.
 */
public final class RingReaderBench {
    private RingReaderBench() {
    }

    /** Records/s of each of {@code rounds} fills of a {@code ringBytes} ring with {@code size}-byte records. */
    public static double[] measure(byte[] object, String kernelBtf, int size, int ringBytes, int rounds)
            throws Exception {
        double[] out = new double[rounds];
        try (RingBuffer ring = RingBuffer.create("bench_ring", ringBytes);
                BpfObject obj = BpfObject.open("bench_ring", object, kernelBtf)) {
            obj.reuseMap("events", ring.fd());
            obj.load();
            // each record takes its size rounded up to 8 plus an 8-byte header; fill 9/10 of the ring
            int records = (int) (ringBytes * 0.9 / (((size + 7) & ~7) + 8));
            long[] sum = {0};
            // in place, as the agent's reader takes them (RecordRouter)
            RingBuffer.RecordAtHandler handler = (area, at, n) -> sum[0] += area.getInt(at);
            for (int round = -2; round < rounds; round++) { // two unmeasured rounds: JIT
                Memory ctx = new Memory(12);
                ctx.clear();
                ctx.setInt(0, records);
                ctx.setInt(4, size);
                obj.testRun("ring_fill", ctx);
                int written = ctx.getInt(8);
                if (written != records) {
                    throw new IllegalStateException("the producer wrote " + written + " of " + records + " records");
                }
                long t0 = System.nanoTime();
                int n = 0;
                while (n < records) {
                    n += ring.consume(handler);
                }
                long ns = System.nanoTime() - t0;
                if (n != records) {
                    throw new IllegalStateException("read " + n + " of " + records + " records");
                }
                if (round >= 0) {
                    out[round] = records * 1e9 / ns;
                }
            }
            if (sum[0] == 42) {
                System.out.print(""); // keeps the handler's reads alive
            }
        }
        return out;
    }

    /** Median of {@code v}. */
    static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }
}
