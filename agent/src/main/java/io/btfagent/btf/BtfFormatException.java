package io.btfagent.btf;

/** BTF bytes that cannot be parsed; the message names what is wrong. */
public final class BtfFormatException extends Exception {
    private static final long serialVersionUID = 1L;

    public BtfFormatException(String message) {
        super(message);
    }
}
