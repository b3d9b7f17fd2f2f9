package io.btfagent.bpf;

import io.btfagent.bpf.internal.Libbpf;
import java.nio.charset.StandardCharsets;

/** A libbpf call that failed: the operation, the errno, and libbpf's last log lines. */
public final class BpfException extends Exception {
    private static final long serialVersionUID = 1L;
    private final int errno;

    BpfException(String operation, int errno, String libbpfLog) {
        super(operation + " failed: " + strerror(errno) + " (errno " + errno + ")"
                + (libbpfLog.isEmpty() ? "" : "; libbpf said: " + libbpfLog));
        this.errno = errno;
    }

    public int errno() {
        return errno;
    }

    /**
     * The one error path: libbpf int results are {@code -errno}; NULL pointer results leave
     * errno set, which JNA preserves per thread.
     */
    static int check(String operation, int ret) throws BpfException {
        if (ret < 0) {
            throw new BpfException(operation, -ret, LibbpfLog.drain());
        }
        return ret;
    }

    static com.sun.jna.Pointer check(String operation, com.sun.jna.Pointer p) throws BpfException {
        if (p == null) {
            int errno = com.sun.jna.Native.getLastError();
            throw new BpfException(operation, errno == 0 ? 22 : errno, LibbpfLog.drain());
        }
        return p;
    }

    private static String strerror(int errno) {
        byte[] buf = new byte[128];
        if (Libbpf.libbpf_strerror(errno, buf, buf.length) != 0) {
            return "error " + errno;
        }
        int n = 0;
        while (n < buf.length && buf[n] != 0) {
            n++;
        }
        return new String(buf, 0, n, StandardCharsets.UTF_8);
    }
}
