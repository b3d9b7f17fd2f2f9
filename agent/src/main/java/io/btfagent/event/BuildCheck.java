package io.btfagent.event;

import java.nio.ByteBuffer;
import java.util.Optional;

/**
 * Checks that a BTF not made for the exact library build (one from {@code btf.path}, or the
 * catalog's BTF of another build of the same version line) really describes the build, by
 * what it makes the program read. libbpf accepts any BTF that has the right names, and a wrong
 * one silently reads the wrong fields; read through a wrong layout, the BIO method type is
 * garbage and a socket BIO's fd is not a socket. Every record of such a library is checked
 * before it is reported; the first that fails condemns the BTF.
 */
public final class BuildCheck {
    // include/openssl/bio.h
    private static final int BIO_TYPE_DESCRIPTOR = 0x0100;
    private static final int BIO_TYPE_FILTER = 0x0200;
    private static final int BIO_TYPE_SOURCE_SINK = 0x0400;
    private static final int BIO_TYPE_SOCKET = 5 | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR;
    private static final int BIO_TYPE_CONNECT = 12 | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR;
    private static final int BIO_TYPE_ACCEPT = 13 | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR;
    private static final int BIO_TYPE_DGRAM = 21 | BIO_TYPE_SOURCE_SINK | BIO_TYPE_DESCRIPTOR;

    private final RecordLayout layout;

    public BuildCheck(RecordLayout layout) {
        this.layout = layout;
    }

    /** Why this record shows the BTF does not describe the library, or empty if it is sound. */
    public Optional<String> problem(ByteBuffer record) {
        return problem(record, 0);
    }

    /** {@link #problem(ByteBuffer)} of the record at {@code at} in {@code area}; allocates nothing when sound. */
    public Optional<String> problem(ByteBuffer area, int at) {
        ByteBuffer record = area;
        int type = record.getInt(at + layout.bioType());
        int fd = record.getInt(at + layout.fd());
        if (fd == -2 || type == 0) {
            return Optional.of("the BIO of a TLS call could not be read");
        }
        // An index in the low byte, flag bits only from DESCRIPTOR|FILTER|SOURCE_SINK, and at
        // least one of FILTER or SOURCE_SINK: every type OpenSSL or BIO_get_new_index() makes.
        boolean plausible = (type & 0xff) != 0 && (type & ~0x07ff) == 0
                && (type & (BIO_TYPE_FILTER | BIO_TYPE_SOURCE_SINK)) != 0
                && ((type & BIO_TYPE_DESCRIPTOR) == 0 || (type & BIO_TYPE_SOURCE_SINK) != 0);
        if (!plausible) {
            return Optional.of(String.format("it reads an impossible BIO type 0x%x", type));
        }
        boolean socketBio = type == BIO_TYPE_SOCKET || type == BIO_TYPE_CONNECT || type == BIO_TYPE_ACCEPT
                || type == BIO_TYPE_DGRAM;
        if (socketBio && Short.toUnsignedInt(record.getShort(at + layout.family())) == 0) {
            return Optional.of("it reads fd " + fd + " for a socket BIO, and fd " + fd + " is not a socket");
        }
        return Optional.empty();
    }
}
