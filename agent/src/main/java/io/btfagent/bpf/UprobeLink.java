package io.btfagent.bpf;

import com.sun.jna.Pointer;
import io.btfagent.bpf.internal.Libbpf;

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
}
