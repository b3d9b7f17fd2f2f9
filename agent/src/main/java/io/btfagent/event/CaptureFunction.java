package io.btfagent.event;

import java.util.List;
import java.util.Optional;

/**
 * The hooked functions, as {@code enum capture_func} in bpf/src/main/bpf/capture_event.h
 * defines them: a constant here is {@code FUNC_<NAME>} there with the same value (the probe's
 * cookie carries it in its low byte). CaptureHeaderTest compares every value both ways, so a
 * function added in the C without its twin here (or the reverse) fails the build.
 */
public enum CaptureFunction {
    SSL_READ(0, "SSL_read", false),
    SSL_READ_EX(1, "SSL_read_ex", false),
    SSL_WRITE(2, "SSL_write", true),
    SSL_WRITE_EX(3, "SSL_write_ex", true),
    GNUTLS_RECORD_RECV(4, "gnutls_record_recv", false),
    GNUTLS_RECORD_SEND(5, "gnutls_record_send", true);

    private static final CaptureFunction[] BY_ID = new CaptureFunction[256];

    static {
        for (CaptureFunction f : values()) {
            BY_ID[f.id] = f;
        }
    }

    private final int id;
    private final String symbol;
    private final boolean egress;

    CaptureFunction(int id, String symbol, boolean egress) {
        this.id = id;
        this.symbol = symbol;
        this.egress = egress;
    }

    /** The value of {@code FUNC_<name>} in the C enum: the cookie's low byte. */
    public int id() {
        return id;
    }

    /** The library's symbol the probe sits on. */
    public String symbol() {
        return symbol;
    }

    /** Writes send plaintext out ({@code egress}); reads bring it in ({@code ingress}). */
    public boolean egress() {
        return egress;
    }

    /** The enumerator's name in capture_event.h. */
    public String cName() {
        return "FUNC_" + name();
    }

    /** The function of {@code id}, or null; allocates nothing (the ring reader's path). */
    public static CaptureFunction byIdOrNull(int id) {
        return id >= 0 && id < BY_ID.length ? BY_ID[id] : null;
    }

    public static Optional<CaptureFunction> byId(int id) {
        return id >= 0 && id < BY_ID.length ? Optional.ofNullable(BY_ID[id]) : Optional.empty();
    }

    public static Optional<CaptureFunction> bySymbol(String symbol) {
        for (CaptureFunction f : values()) {
            if (f.symbol.equals(symbol)) {
                return Optional.of(f);
            }
        }
        return Optional.empty();
    }

    /** Every symbol, in id order. */
    public static List<String> symbols() {
        return java.util.Arrays.stream(values()).map(CaptureFunction::symbol).toList();
    }
}
