package io.btfagent.it;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.btfagent.bpf.BpfObject;
import io.btfagent.bpf.LibbpfLog;
import io.btfagent.bpf.RingBuffer;
import io.btfagent.bpf.internal.Libbpf;
import io.btfagent.bpf.BtfMerger;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Userspace CO-RE on its own, without TLS: one BPF object ({@code core_demo.bpf.c}, compiled
 * against v1's {@code struct data {int a; int c; int d;}}) reads {@code d->a} and {@code d->c}
 * on entry to {@code add_test} of a demo library built in two versions, v2 having {@code int b}
 * inserted before {@code c}. The object goes through the agent's own path: BtfMerger (kernel
 * BTF + the library build's pahole BTF) → BpfObject.open with that as btf_custom_path → load
 * (libbpf relocates) → attachUprobe on the calling JVM's pid → RingBuffer.
 */
@Privileged
class CoreDemoIT {
    private static final Path DIR = Path.of(System.getProperty("core-demo.dir", "target/core-demo"));
    private static final String CALLER_CLASSPATH = System.getProperty("core-demo.classpath");
    private static final String CALLER = "io.btfagent.demo.CoreDemoCaller";
    private static final String KERNEL_BTF = "/sys/kernel/btf/vmlinux";
    private static final String PROGRAM = "add_test_enter";
    private static final String RING = "reads";
    private static final int RING_BYTES = 4096; // the map's max_entries in core_demo.bpf.c
    /** libbpf's messages of the current load, to show where CO-RE put each read. */
    private static final List<String> LIBBPF_LOG = new CopyOnWriteArrayList<>();

    @TempDir
    static Path natives;
    private static byte[] object;

    /** What the probe saw in one add_test call, and what the call returned. */
    private record Read(int a, int c, int pid, int returned) {
    }

    @BeforeAll
    static void loadTheAgentsLibbpfAndTheObject() throws IOException {
        // The libbpf the agent ships, bound as the agent binds it (by absolute path).
        Path libbpf = natives.resolve("libbpf.so");
        Files.write(libbpf, resource("io/btfagent/natives/libbpf.so"));
        Libbpf.bind(libbpf.toString());
        LibbpfLog.install(LIBBPF_LOG::add, () -> true); // every line: the tests read the CO-RE relocations
        object = resource("io/btfagent/bpf/core_demo.bpf.o");
    }

    @BeforeEach
    void forgetLibbpfLog() {
        LIBBPF_LOG.clear();
    }

    @Test
    void v1LibraryWithV1BtfReadsAAndC() throws Exception {
        Read r = probe("v1", "v1", 11, 33, 44);
        assertEquals(44, r.returned(), "add_test(a + c) in the library itself");
        assertEquals(11, r.a());
        assertEquals(33, r.c());
    }

    @Test
    void v2LibraryWithV2BtfReadsAAndCFromTheirNewOffsets() throws Exception {
        Read r = probe("v2", "v2", 11, 22, 33, 44);
        assertEquals(44, r.returned(), "add_test(a + c) in the library itself");
        assertEquals(11, r.a());
        assertEquals(33, r.c(), "c relocated from offset 4 (v1, as compiled) to 8 (v2)");
    }

    /** What selecting BTF by build-id protects against: the old layout's offset reads b. */
    @Test
    void v2LibraryWithV1BtfReadsBInsteadOfC() throws Exception {
        Read r = probe("v2", "v1", 11, 22, 33, 44);
        assertEquals(44, r.returned(), "add_test(a + c) in the library itself");
        assertEquals(11, r.a(), "a is at offset 0 in both layouts");
        assertEquals(22, r.c(), "with v1's BTF, c is read at v1's offset 4, where v2 keeps b");
    }

    /**
     * Loads the object for {@code btfVersion}'s BTF, starts a JVM that loads {@code
     * libraryVersion}'s library, attaches to that JVM, lets it call add_test once with a struct
     * of {@code fields} (in declaration order), and returns the one record the probe wrote.
     */
    private Read probe(String libraryVersion, String btfVersion, int... fields) throws Exception {
        Path library = DIR.resolve(libraryVersion).resolve("libcoredemo.so").toAbsolutePath();
        byte[] btf = Files.readAllBytes(DIR.resolve(btfVersion).resolve("libcoredemo.btf"));
        BpfObject obj;
        try (BtfMerger.Merged merged = BtfMerger.merge(KERNEL_BTF, btf)) {
            obj = BpfObject.open("core_demo", object, merged.path());
            try {
                obj.load(); // CO-RE relocation happens here, against the merged BTF
            } catch (Exception e) {
                obj.close();
                throw e;
            }
        }
        System.out.println("library " + libraryVersion + ", BTF " + btfVersion + ", CO-RE relocations:");
        LIBBPF_LOG.stream().filter(l -> l.contains("patched insn")).forEach(l -> System.out.println("  " + l));

        List<Read> reads = new ArrayList<>();
        try (obj; RingBuffer ring = RingBuffer.map(obj.mapFd(RING), RING_BYTES)) {
            List<String> cmd = new ArrayList<>();
            cmd.add(ChildJvm.JAVA);
            cmd.addAll(ChildJvm.JVM_FLAGS);
            cmd.addAll(List.of("-cp", CALLER_CLASSPATH, CALLER, library.toString()));
            for (int f : fields) {
                cmd.add(Integer.toString(f));
            }
            String stdout;
            long pid;
            try (ChildProcess p = ChildProcess.start(cmd, Map.of(), true)) {
                p.awaitStderr(text -> text.contains("loaded"), null, ChildProcess.deadline(60),
                        "that it loaded " + library, 10);
                obj.attachUprobe(PROGRAM, (int) p.pid(), library.toString(), "add_test", false, 0);
                p.sendLine();
                p.closeStdin();
                assertEquals(0, p.awaitExit(ChildProcess.deadline(60)), p.stderr());
                stdout = p.stdout().strip();
                pid = p.pid();
            }
            assertTrue(stdout.startsWith("add_test returned "), stdout);
            int returned = Integer.parseInt(stdout.substring("add_test returned ".length()));
            // struct core_demo_read: a@0, c@4, pid@8
            ring.consume(rec -> reads.add(new Read(rec.getInt(0), rec.getInt(4), rec.getInt(8), returned)));
            assertEquals(1, reads.size(), "one record per add_test call: " + reads);
            assertEquals(pid, reads.get(0).pid(), "the record comes from the caller JVM");
        }
        System.out.println("  read " + reads.get(0));
        return reads.get(0);
    }

    private static byte[] resource(String name) throws IOException {
        try (InputStream in = CoreDemoIT.class.getClassLoader().getResourceAsStream(name)) {
            if (in == null) {
                throw new IOException(name + " is not on the test class path");
            }
            return in.readAllBytes();
        }
    }
}
