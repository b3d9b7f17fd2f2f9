package io.btfagent.bpf.internal;

import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Pointer;

/**
 * libbpf entry points for uprobe_multi links (libbpf >= 1.3), bound separately from
 * {@link Libbpf} so that an older libbpf given with {@code libbpf.path} still works, with
 * single uprobe links.
 */
public final class LibbpfMulti {
    private static volatile Boolean available;

    private LibbpfMulti() {
    }

    /** Binds to the same library as {@link Libbpf}; false when it lacks these functions. */
    public static synchronized boolean bind(String absolutePath) {
        if (available == null) {
            try {
                Native.register(LibbpfMulti.class, NativeLibrary.getInstance(absolutePath));
                available = true;
            } catch (UnsatisfiedLinkError e) {
                available = false;
            }
        }
        return available;
    }

    /** int bpf_program__set_expected_attach_type(struct bpf_program *prog, enum bpf_attach_type type) */
    public static native int bpf_program__set_expected_attach_type(Pointer prog, int type);

    /** struct bpf_link *bpf_program__attach_uprobe_multi(const struct bpf_program *prog, pid_t pid, const char *binary_path, const char *func_pattern, const struct bpf_uprobe_multi_opts *opts) */
    public static native Pointer bpf_program__attach_uprobe_multi(Pointer prog, int pid, String binaryPath,
            String funcPattern, Pointer opts);
}
