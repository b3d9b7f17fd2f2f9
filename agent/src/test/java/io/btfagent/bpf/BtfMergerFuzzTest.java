package io.btfagent.bpf;

import com.code_intelligence.jazzer.junit.FuzzTest;
import io.btfagent.btf.BtfFormatException;
import io.btfagent.testing.FuzzBounds;
import java.io.IOException;
import java.io.InputStream;
import java.util.Set;

/**
 * The merger's input side: what it reads of a library's BTF appended to the kernel's, and of a
 * kernel BTF it cuts to the program's types. Either refuses with a {@link BtfFormatException}
 * (the merge then falls back to libbpf, which checks for itself) or gives bytes. Seeds: catalog
 * BTF ({@code appendedToKernel}), a 6.18 kernel's BTF cut to the program's types ({@code
 * kernelSide}).
 */
class BtfMergerFuzzTest {
    /** The names the capture program's relocations look up in the kernel (KernelBtfSubset.namesOf). */
    private static final Set<String> PROGRAM_TYPES = Set.of("files_struct", "fdtable", "pt_regs", "in6_addr", "inode",
            "sock", "file", "task_struct", "socket", "sock_common");
    private static final byte[] KERNEL = resource("BtfMergerFuzzTestInputs/kernelSide/kernel-6.18-subset.btf");
    private static final byte[] LIBRARY = resource("BtfMergerFuzzTestInputs/appendedToKernel/openssl-3.0.19.btf");

    private static byte[] resource(String name) {
        try (InputStream in = BtfMergerFuzzTest.class.getResourceAsStream(name)) {
            return in.readAllBytes();
        } catch (IOException | NullPointerException e) {
            throw new IllegalStateException("seed " + name + " missing", e);
        }
    }

    @FuzzTest(maxDuration = "3m")
    void appendedToKernel(byte[] library) throws Exception {
        FuzzBounds.within("append", 4L * (KERNEL.length + library.length) + (1 << 20), 5_000, () -> {
            try {
                BtfMerger.append(KERNEL, library);
            } catch (BtfFormatException refused) {
                // its own refusal
            }
        });
    }

    @FuzzTest(maxDuration = "3m")
    void kernelSide(byte[] kernel) throws Exception {
        FuzzBounds.within("kernel side", 64L * kernel.length + 4L * LIBRARY.length + (1 << 20), 5_000, () -> {
            try {
                KernelBtfSubset.of(kernel, PROGRAM_TYPES);
            } catch (BtfFormatException refused) {
                // its own refusal
            }
            try {
                BtfMerger.append(kernel, LIBRARY);
            } catch (BtfFormatException refused) {
                // its own refusal
            }
        });
    }
}
