package io.btfagent.bpf;

import com.sun.jna.Memory;
import io.btfagent.bpf.internal.LibC;
import io.btfagent.bpf.internal.Libbpf;

/**
 * A BPF map this process creates and owns, for several objects to share through
 * {@link BpfObject#reuseMap} and for user space to write. Its definition must match the
 * object's declaration of the map exactly, or the object's load fails.
 */
public final class BpfMap implements AutoCloseable {
    public static final int BPF_MAP_TYPE_HASH = 1;
    public static final int BPF_MAP_TYPE_ARRAY = 2;
    public static final int BPF_MAP_TYPE_LRU_HASH = 9;
    private static final long BPF_ANY = 0;
    private static final long BPF_NOEXIST = 1;

    private final int fd;
    private final String name;
    private final int keySize;
    private final int valueSize;
    private volatile boolean closed;

    private BpfMap(int fd, String name, int keySize, int valueSize) {
        this.fd = fd;
        this.name = name;
        this.keySize = keySize;
        this.valueSize = valueSize;
    }

    public static BpfMap create(int type, String name, int keySize, int valueSize, int maxEntries)
            throws BpfException {
        int fd = BpfException.check("bpf_map_create(" + name + ")",
                Libbpf.bpf_map_create(type, name, keySize, valueSize, maxEntries, null));
        return new BpfMap(fd, name, keySize, valueSize);
    }

    /** BPF_F_MMAPABLE: an array map user space can mmap (the value of element 0 at the mapping's start). */
    public static final int BPF_F_MMAPABLE = 1 << 10;

    /**
     * {@link #create} with {@code flags} (the map's map_flags), through a
     * {@code struct bpf_map_create_opts} that sets only them (libbpf reads the fields its
     * {@code sz} covers: sz, btf_fd, btf_key_type_id, btf_value_type_id,
     * btf_vmlinux_value_type_id, inner_map_fd, map_flags).
     */
    public static BpfMap create(int type, String name, int keySize, int valueSize, int maxEntries, int flags)
            throws BpfException {
        Memory opts = new Memory(32);
        opts.clear();
        opts.setLong(0, 32);
        opts.setInt(28, flags);
        int fd = BpfException.check("bpf_map_create(" + name + ")",
                Libbpf.bpf_map_create(type, name, keySize, valueSize, maxEntries, opts));
        return new BpfMap(fd, name, keySize, valueSize);
    }

    public int fd() {
        return fd;
    }

    /** Sets {@code key} (a u64, host order) to {@code value}, creating or replacing the entry. */
    public void put(long key, byte[] value) throws BpfException {
        if (keySize != 8 || value.length != valueSize) {
            throw new IllegalArgumentException(name + " has " + keySize + "-byte keys and " + valueSize
                    + "-byte values, not 8 and " + value.length);
        }
        Memory k = new Memory(8);
        k.setLong(0, key);
        Memory v = new Memory(valueSize);
        v.write(0, value, 0, value.length);
        BpfException.check("bpf_map_update_elem(" + name + ")", Libbpf.bpf_map_update_elem(fd, k, v, BPF_ANY));
    }

    /**
     * Inserts the u64 {@code key} with a one-byte value unless it exists: true when this call
     * made it, false when the key was there already (someone else's claim).
     */
    public boolean claim(long key) {
        Memory k = new Memory(8);
        k.setLong(0, key);
        Memory v = new Memory(Math.max(1, valueSize));
        v.clear();
        return Libbpf.bpf_map_update_elem(fd, k, v, BPF_NOEXIST) == 0;
    }

    /** The value of the u64 {@code key}, or null when there is none. */
    public byte[] get(long key) {
        Memory k = new Memory(8);
        k.setLong(0, key);
        Memory v = new Memory(valueSize);
        if (Libbpf.bpf_map_lookup_elem(fd, k, v) != 0) {
            return null;
        }
        return v.getByteArray(0, valueSize);
    }

    @Override
    public synchronized void close() {
        if (!closed) {
            closed = true;
            LibC.close(fd);
        }
    }
}
