package io.btfagent.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.btfagent.bench.ProfileTable.Component;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The components of stacks as async-profiler 4.1 wrote them in the benchmark's profiles. */
class ProfileTableTest {
    private static final String LOOP = "[multiThreadIoEventLoopGroup-2-1 tid=6649];java/lang/Thread.run;"
            + "io/netty/channel/nio/NioIoHandler.run;io/netty/handler/ssl/SslHandler.unwrap;"
            + "io/netty/internal/tcnative/SSL.readFromSSL;/tmp/libnetty_tcnative_linux_x86_64123.so (deleted)";

    @TempDir
    Path tmp;

    @Test
    void eachStackGoesToItsComponent() {
        assertEquals(Component.KERNEL_PROBES, classify(LOOP + ";asm_exc_int3_[k];exc_int3_[k];handle_swbp_[k]"
                + ";handler_chain_[k];uprobe_prog_run_[k];bpf_prog_db47b497fdf0c362_ssl_call_exit?[bpf]_[k]"));
        assertEquals(Component.KERNEL_PROBES, classify(LOOP + ";irqentry_exit_to_user_mode_[k];"
                + "uprobe_notify_resume_[k]"));
        assertEquals(Component.APPLICATION, classify(LOOP));
        assertEquals(Component.APPLICATION, classify("[multiThreadIoEventLoopGroup-2-2 tid=6655];"
                + "io/btfagent/netty/KeepAliveHttpsServer$Requests.channelRead"));
        assertEquals(Component.IDENTITY, classify(LOOP.replace("SSL.readFromSSL", "SSL.readFromSSL;"
                + "io/btfagent/bootstrap/ConnectionBridge.engineCall;io/btfagent/identity/JvmConnections.engineCall")));
        assertEquals(Component.REDACTION, classify("[btf-agent-ring tid=7];io/btfagent/bpf/RingBufferPoller.run;"
                + "io/btfagent/redact/Redactor.redact;io/btfagent/redact/HeaderMasker.mask"));
        assertEquals(Component.RING_READER, classify("[btf-agent-ring tid=7];io/btfagent/bpf/RingBufferPoller.run;"
                + "io/btfagent/event/RecordRouter.route"));
        assertEquals(Component.JSONL_ENCODE, classify("[btf-agent-sink-jsonl tid=8];io/btfagent/sink/JsonlSink.accept;"
                + "io/btfagent/sink/EventJson.string"));
        assertEquals(Component.JSONL_WRITE, classify("[btf-agent-sink-jsonl tid=8];io/btfagent/sink/JsonlSink.flush;"
                + "sun/nio/ch/FileChannelImpl.write;__write;entry_SYSCALL_64_after_hwframe_[k];ksys_write_[k]"));
        assertEquals(Component.OTHER_SINKS, classify("[btf-agent-sink-pcapng tid=9];io/btfagent/sink/pcapng/X.y"));
        assertEquals(Component.AGENT_OTHER, classify("[btf-agent-scan tid=10];io/btfagent/tls/LibraryScanner.scan"));
        assertEquals(Component.JIT, classify("[C2 CompilerThre tid=18971];start_thread;C2Compiler::compile_method"));
        assertEquals(Component.GC, classify("[GC Thread#0 tid=11];start_thread;G1ParTask::work"));
        assertEquals(Component.OTHER, classify("[VM Periodic Tas tid=12];start_thread;WatcherThread::run"));
    }

    @Test
    void samplesAreSummedPerComponent() throws Exception {
        Path file = tmp.resolve("p.collapsed");
        Files.writeString(file, LOOP + " 7\n" + LOOP + ";uprobe_notify_resume_[k] 5\n" + LOOP + ";x 3\n"
                + "[btf-agent-ring tid=7];io/btfagent/event/RecordRouter.route 2\n");
        Map<Component, Long> samples = ProfileTable.read(file);
        assertEquals(10L, samples.get(Component.APPLICATION));
        assertEquals(5L, samples.get(Component.KERNEL_PROBES));
        assertEquals(2L, samples.get(Component.RING_READER));
        assertEquals(17L, samples.values().stream().mapToLong(Long::longValue).sum());
    }

    private static Component classify(String stack) {
        return ProfileTable.classify(stack.split(";"));
    }
}
