package io.btfagent.bpf.internal;

import com.sun.jna.Callback;
import com.sun.jna.Native;
import com.sun.jna.NativeLibrary;
import com.sun.jna.Pointer;

/**
 * Raw libbpf entry points, bound by JNA direct mapping (near-JNI call cost). Names and
 * signatures are libbpf's own; the types in {@code io.btfagent.bpf} wrap them. libbpf 1.x
 * returns {@code -errno} from int functions and NULL with errno set from pointer functions.
 */
public final class Libbpf {
    private Libbpf() {
    }

    private static volatile String boundPath;

    /** Binds the natives to the libbpf at {@code absolutePath}; later calls are no-ops. */
    public static synchronized void bind(String absolutePath) {
        if (boundPath == null) {
            Native.register(Libbpf.class, NativeLibrary.getInstance(absolutePath));
            boundPath = absolutePath;
        }
    }

    public static String boundPath() {
        return boundPath;
    }

    /** {@code libbpf_print_fn_t}: int (*)(enum libbpf_print_level, const char *, va_list). */
    public interface PrintFn extends Callback {
        int invoke(int level, Pointer format, Pointer args);
    }

    /** libbpf_print_fn_t libbpf_set_print(libbpf_print_fn_t fn) */
    public static native Pointer libbpf_set_print(PrintFn fn);

    /** int libbpf_num_possible_cpus(void) */
    public static native int libbpf_num_possible_cpus();

    /** struct bpf_object *bpf_object__open_mem(const void *obj_buf, size_t obj_buf_sz, const struct bpf_object_open_opts *opts) */
    public static native Pointer bpf_object__open_mem(Pointer objBuf, long size, Pointer opts);

    /** int bpf_object__load(struct bpf_object *obj) */
    public static native int bpf_object__load(Pointer obj);

    /** void bpf_object__close(struct bpf_object *obj) */
    public static native void bpf_object__close(Pointer obj);

    /** struct bpf_program *bpf_object__find_program_by_name(const struct bpf_object *obj, const char *name) */
    public static native Pointer bpf_object__find_program_by_name(Pointer obj, String name);

    /** struct bpf_map *bpf_object__find_map_by_name(const struct bpf_object *obj, const char *name) */
    public static native Pointer bpf_object__find_map_by_name(Pointer obj, String name);


    /** int bpf_map__reuse_fd(struct bpf_map *map, int fd) */
    public static native int bpf_map__reuse_fd(Pointer map, int fd);

    /** int bpf_map_create(enum bpf_map_type map_type, const char *map_name, __u32 key_size, __u32 value_size, __u32 max_entries, const struct bpf_map_create_opts *opts) */
    public static native int bpf_map_create(int mapType, String name, int keySize, int valueSize, int maxEntries,
            Pointer opts);

    /** int bpf_map__fd(const struct bpf_map *map) */
    public static native int bpf_map__fd(Pointer map);

    /** void *bpf_map__initial_value(struct bpf_map *map, size_t *psize) */
    public static native Pointer bpf_map__initial_value(Pointer map, Pointer psize);

    /** int bpf_map_lookup_elem(int fd, const void *key, void *value) */
    public static native int bpf_map_lookup_elem(int fd, Pointer key, Pointer value);

    /** int bpf_map_update_elem(int fd, const void *key, const void *value, __u64 flags) */
    public static native int bpf_map_update_elem(int fd, Pointer key, Pointer value, long flags);

    /** int bpf_map_delete_elem(int fd, const void *key) */
    public static native int bpf_map_delete_elem(int fd, Pointer key);

    /** struct bpf_link *bpf_program__attach_uprobe_opts(const struct bpf_program *prog, pid_t pid, const char *binary_path, size_t func_offset, const struct bpf_uprobe_opts *opts) */
    public static native Pointer bpf_program__attach_uprobe_opts(Pointer prog, int pid, String binaryPath,
            long funcOffset, Pointer opts);

    /** int bpf_program__fd(const struct bpf_program *prog) */
    public static native int bpf_program__fd(Pointer prog);

    /** int bpf_prog_test_run_opts(int prog_fd, struct bpf_test_run_opts *opts) */
    public static native int bpf_prog_test_run_opts(int progFd, Pointer opts);

    /** int bpf_link__destroy(struct bpf_link *link) */
    public static native int bpf_link__destroy(Pointer link);

    /** int bpf_program__set_autoload(struct bpf_program *prog, bool autoload) */
    public static native int bpf_program__set_autoload(Pointer prog, boolean autoload);

    /** struct btf *btf__parse(const char *path, struct btf_ext **btf_ext) */
    public static native Pointer btf__parse(String path, Pointer btfExt);

    /** struct btf *btf__new(const void *data, __u32 size) */
    public static native Pointer btf__new(Pointer data, int size);

    /** int btf__add_btf(struct btf *btf, const struct btf *src_btf) */
    public static native int btf__add_btf(Pointer btf, Pointer src);

    /** const void *btf__raw_data(const struct btf *btf, __u32 *size) */
    public static native Pointer btf__raw_data(Pointer btf, Pointer size);

    /** void btf__free(struct btf *btf) */
    public static native void btf__free(Pointer btf);

    /** int libbpf_strerror(int err, char *buf, size_t size) */
    public static native int libbpf_strerror(int err, byte[] buf, long size);

    /** int libbpf_probe_bpf_helper(enum bpf_prog_type prog_type, enum bpf_func_id helper_id, const void *opts) */
    public static native int libbpf_probe_bpf_helper(int progType, int helperId, Pointer opts);

    /** int libbpf_probe_bpf_map_type(enum bpf_map_type map_type, const void *opts) */
    public static native int libbpf_probe_bpf_map_type(int mapType, Pointer opts);

    /**
     * int bpf_prog_load(enum bpf_prog_type prog_type, const char *prog_name, const char *license,
     * const struct bpf_insn *insns, size_t insn_cnt, struct bpf_prog_load_opts *opts)
     */
    public static native int bpf_prog_load(int progType, String name, String license, Pointer insns, long insnCnt,
            Pointer opts);
}
