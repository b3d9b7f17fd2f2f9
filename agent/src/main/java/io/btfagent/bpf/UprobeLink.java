package io.btfagent.bpf;

import com.sun.jna.Pointer;
import io.btfagent.bpf.internal.Libbpf;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;

/** One attached uprobe or uretprobe; closing detaches it. */
public final class UprobeLink implements AutoCloseable {
    private final String description;
    private Pointer link;

    UprobeLink(String description, Pointer link) {
        this.description = description;
        this.link = link;
    }

    public String description() {
        return description;
    }

    @Override
    public synchronized void close() {
        if (link != null) {
            Libbpf.bpf_link__destroy(link);
            link = null;
        }
    }

    /**
     * Detaches {@code links}, each on its own thread, and waits for them until {@code endNanos}
     * ({@link System#nanoTime}). Each detach waits for the kernel to finish with the probe (an
     * RCU grace period, tens of milliseconds); done in parallel, those waits overlap.
     */
    public static void closeInParallel(Collection<UprobeLink> links, long endNanos) {
        List<Thread> detaching = new ArrayList<>();
        for (UprobeLink link : links) {
            Thread t = new Thread(link::close, "btf-agent-detach");
            t.setDaemon(true);
            t.start();
            detaching.add(t);
        }
        try {
            for (Thread t : detaching) {
                t.join(Math.max(1, (endNanos - System.nanoTime()) / 1_000_000));
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
