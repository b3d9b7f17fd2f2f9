package io.btfagent.redact;

import java.nio.charset.StandardCharsets;

/**
 * Masks credentials in one direction of one connection, HTTP/1 or HTTP/2, fed its bytes in
 * order in as many pieces as they come. It tells the protocol from the bytes themselves, not
 * the port: the client preface (RFC 9113 section 3.4) or a first SETTINGS frame make it
 * HTTP/2, a first upper-case letter HTTP/1 (masked by {@link HeaderMasker}); an HTTP/1.1
 * connection that switches ({@code Upgrade: h2c}, a 101 response) follows into HTTP/2.
 *
 * <p>In HTTP/2 it follows the frames (their headers, padding and priority fields) and hands
 * the header blocks of HEADERS, PUSH_PROMISE and CONTINUATION frames to an
 * {@link HpackMasker}. It fails closed: after bytes it did not see (lost or truncated records)
 * it keeps its place if the bytes fell inside a frame it was skipping anyway, and otherwise
 * forgets the table (every literal value masked from there), masks every byte up to the next
 * point where a valid chain of frames starts, and goes on from there. A connection first seen
 * in the middle (an attach, a late hook) is taken as HTTP/2 from a record that is exactly a chain
 * of valid frames, with the table unknown.
 */
final class Http2Masker {
    static final byte[] PREFACE = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1);
    private static final byte[] SWITCHING = "HTTP/1.1 101".getBytes(StandardCharsets.ISO_8859_1);
    /** The default SETTINGS_MAX_FRAME_SIZE: a frame found by scanning must fit in it. */
    static final int DEFAULT_MAX_FRAME = 16384;
    private static final int DATA = 0;
    private static final int HEADERS = 1;
    private static final int PRIORITY = 2;
    private static final int RST_STREAM = 3;
    private static final int SETTINGS = 4;
    private static final int PUSH_PROMISE = 5;
    private static final int PING = 6;
    private static final int GOAWAY = 7;
    private static final int WINDOW_UPDATE = 8;
    private static final int CONTINUATION = 9;
    private static final int END_HEADERS = 0x4;
    private static final int PADDED = 0x8;
    private static final int PRIORITY_FLAG = 0x20;
    private static final int HEADER_TABLE_SIZE = 1;

    /** What the connection speaks, as far as this direction has shown. */
    enum Mode { SNIFF, HTTP1, UNKNOWN, HTTP2 }

    private enum Frame { HEADER, PAD_LENGTH, FIXED, FRAGMENT, PADDING, SETTINGS, SKIP, LOST }

    private final byte[][] sensitiveNames;
    private final HpackMasker.ValueCheck valueCheck;
    private final HeaderMasker http1;
    private Http2Masker peer;
    private HpackMasker hpack;
    private Mode mode = Mode.SNIFF;
    /** The first bytes, while the protocol is not known. */
    private final byte[] sniff = new byte[PREFACE.length];
    private int sniffLen;
    /** HTTP/2 from this direction's first byte (else found mid-connection or after a loss). */
    private boolean cleanStart;
    /** Something the connection's owner should say once (why values are masked wholesale). */
    private String notice;

    private Frame frame = Frame.HEADER;
    private final byte[] header = new byte[9];
    private int headerLen;
    private int type;
    private int flags;
    private int streamId;
    /** Bytes of the current frame's payload not yet consumed. */
    private int payloadLeft;
    private int padLength;
    /** Bytes of a fixed field (priority, promised stream id) still to skip. */
    private int fixedLeft;
    /** Between a HEADERS/PUSH_PROMISE without END_HEADERS and its last CONTINUATION. */
    private boolean inBlock;
    /** The current block's start was not seen: its fragments are masked whole. */
    private boolean blockBlind;
    private final byte[] setting = new byte[6];
    private int settingLen;
    private int masked;
    private StringBuilder lines;

    Http2Masker(byte[][] sensitiveNames, HpackMasker.ValueCheck valueCheck, HeaderMasker http1) {
        this.sensitiveNames = sensitiveNames;
        this.valueCheck = valueCheck;
        this.http1 = http1;
    }

    /** The other direction of the same connection. */
    void peer(Http2Masker p) {
        this.peer = p;
        if (hpack != null && p.announcedTableSize >= 0) {
            hpack.settingsLimit(p.announcedTableSize);
        }
    }

    /** SETTINGS_HEADER_TABLE_SIZE this direction's sender announced (a limit for the other direction), or -1. */
    private long announcedTableSize = -1;

    Mode mode() {
        return mode;
    }

    /** Whether the dynamic table of this direction is known (HTTP/2 only). */
    boolean tableKnown() {
        return hpack != null && hpack.tableKnown();
    }

    /** A line to log once for the connection, or null; cleared by reading it. */
    String takeNotice() {
        String n = notice;
        notice = null;
        return n;
    }

    private HpackMasker hpack() {
        if (hpack == null) {
            hpack = new HpackMasker(sensitiveNames, valueCheck);
        }
        return hpack;
    }

    /**
     * Bytes were not seen before the next ones.
     *
     * @param missing how many, or -1 if not known
     */
    void gap(long missing) {
        switch (mode) {
            case HTTP1, UNKNOWN -> http1.gap();
            case SNIFF -> mode = Mode.UNKNOWN;
            case HTTP2 -> {
                if (missing >= 0 && missing <= payloadLeft
                        && (frame == Frame.SKIP || frame == Frame.PADDING && missing <= padLength)) {
                    payloadLeft -= (int) missing; // the gap fell inside a frame skipped anyway
                    if (frame == Frame.PADDING) {
                        padLength -= (int) missing;
                    }
                    return;
                }
                lose("bytes were not captured");
            }
            default -> throw new IllegalStateException(mode.toString());
        }
    }

    private void lose(String why) {
        if (hpack().tableKnown()) {
            notice = "HTTP/2 header state lost (" + why + "); every header value of this connection is masked"
                    + " until its header table is known again";
        }
        hpack().tableLost();
        frame = Frame.LOST;
        inBlock = false;
    }

    /**
     * Masks {@code data[off, off+len)} in place.
     *
     * @param out receives the decoded header fields of HTTP/2 header blocks; may be null
     * @return how many bytes were masked
     */
    int mask(byte[] data, int off, int len, StringBuilder out) {
        masked = 0;
        lines = out;
        int end = off + len;
        int i = off;
        if (mode == Mode.UNKNOWN && wholeFrames(data, off, end)) {
            becomeHttp2(false, "HTTP/2 first seen mid-connection (capture began after its start)");
        } else if (mode == Mode.HTTP1 && startsWith(data, off, end, PREFACE)) {
            becomeHttp2(true, null); // h2c after Upgrade: a fresh connection state
            i = off + PREFACE.length;
        } else if ((mode == Mode.HTTP1 || mode == Mode.SNIFF && sniffLen == 0) && startsWith(data, off, end, SWITCHING)) {
            int body = indexOfBlankLine(data, off, end);
            if (body >= 0) {
                masked += http1.mask(data, off, body - off);
                mode = Mode.SNIFF;
                sniffLen = 0;
                i = body;
            }
        }
        if (mode == Mode.SNIFF) {
            boolean fresh = sniffLen == 0 && i == off;
            i = sniff(data, i, end);
            if (fresh && mode == Mode.UNKNOWN && wholeFrames(data, off, end)) {
                becomeHttp2(false, "HTTP/2 first seen mid-connection (capture began after its start)");
                i = off;
            }
        }
        if (mode == Mode.HTTP1 || mode == Mode.UNKNOWN) {
            masked += http1.mask(data, i, end - i);
        } else if (mode == Mode.HTTP2) {
            frames(data, i, end);
        }
        lines = null;
        return masked;
    }

    private void becomeHttp2(boolean clean, String why) {
        mode = Mode.HTTP2;
        cleanStart = clean;
        frame = Frame.HEADER;
        headerLen = 0;
        inBlock = false;
        if (clean) {
            hpack = new HpackMasker(sensitiveNames, valueCheck);
            if (peer != null && peer.announcedTableSize >= 0) {
                hpack.settingsLimit(peer.announcedTableSize);
            }
        } else {
            hpack().tableLost();
            notice = why + "; every header value of this connection is masked until its header table is known";
        }
    }

    /** Reads the first bytes until the protocol is known; returns where the rest starts. */
    private int sniff(byte[] data, int from, int end) {
        int i = from;
        while (i < end && mode == Mode.SNIFF) {
            byte b = data[i];
            if (sniffLen == 0 && b != PREFACE[0] && b != 0) {
                mode = b >= 'A' && b <= 'Z' ? Mode.HTTP1 : Mode.UNKNOWN;
                return i;
            }
            sniff[sniffLen++] = b;
            i++;
            boolean preface = java.util.Arrays.equals(sniff, 0, sniffLen, PREFACE, 0, sniffLen);
            if (preface && sniffLen == PREFACE.length) {
                becomeHttp2(true, null);
                return i;
            }
            if (!preface && sniff[0] == 0 && sniffLen == 9) {
                int length = (sniff[0] & 0xff) << 16 | (sniff[1] & 0xff) << 8 | sniff[2] & 0xff;
                boolean settings = sniff[3] == SETTINGS && sniff[4] == 0 && streamOf(sniff, 5) == 0
                        && length % 6 == 0 && length <= DEFAULT_MAX_FRAME;
                if (settings) {
                    boolean peerMidway = peer != null && peer.mode == Mode.HTTP2 && !peer.cleanStart;
                    becomeHttp2(!peerMidway, "HTTP/2 first seen mid-connection (its other direction was)");
                    System.arraycopy(sniff, 0, header, 0, 9);
                    headerLen = 9;
                    headerDone();
                    return i;
                }
            }
            if (!preface && (sniff[0] != 0 || sniffLen == 9)) {
                // not HTTP/2 from its start: the bytes so far go to the HTTP/1 masker (a copy:
                // those of earlier pieces were passed on already; these are masked in place)
                int here = i - from;
                int before = sniffLen - here;
                mode = sniff[0] >= 'A' && sniff[0] <= 'Z' ? Mode.HTTP1 : Mode.UNKNOWN;
                if (before > 0) {
                    http1.mask(sniff.clone(), 0, before);
                }
                return from;
            }
        }
        return i;
    }

    private void frames(byte[] data, int from, int end) {
        int i = from;
        while (i < end) {
            switch (frame) {
                case HEADER -> {
                    header[headerLen++] = data[i++];
                    if (headerLen == 9) {
                        headerDone();
                    }
                }
                case PAD_LENGTH -> {
                    padLength = data[i++] & 0xff;
                    payloadLeft--;
                    if (padLength > payloadLeft - fixedLeft) {
                        lose("a frame's padding is longer than the frame");
                    } else {
                        frame = fixedLeft > 0 ? Frame.FIXED : Frame.FRAGMENT;
                        endOfPayloadCheck();
                    }
                }
                case FIXED -> {
                    int n = Math.min(fixedLeft, end - i);
                    i += n;
                    fixedLeft -= n;
                    payloadLeft -= n;
                    if (fixedLeft == 0) {
                        frame = Frame.FRAGMENT;
                        endOfPayloadCheck();
                    }
                }
                case FRAGMENT -> {
                    int n = Math.min(payloadLeft - padLength, end - i);
                    if (!blockBlind) {
                        boolean knew = hpack.tableKnown();
                        masked += hpack.feed(data, i, n, lines);
                        if (knew && !hpack.tableKnown()) {
                            notice = "HTTP/2 header state lost (a table size larger than the peer allows or than"
                                    + " followed); every header value of this connection is masked until its"
                                    + " header table is known again";
                        }
                    }
                    if (blockBlind || hpack.failed()) {
                        // a fragment not followed (or not decodable) is masked whole: fail closed
                        java.util.Arrays.fill(data, i, i + n, (byte) '*');
                        masked += n;
                    }
                    i += n;
                    payloadLeft -= n;
                    if (!blockBlind && hpack.failed()) {
                        lose("a header block did not decode");
                    } else {
                        endOfPayloadCheck();
                    }
                }
                case PADDING, SKIP -> {
                    int n = Math.min(payloadLeft, end - i);
                    i += n;
                    payloadLeft -= n;
                    if (frame == Frame.PADDING) {
                        padLength -= n;
                    }
                    endOfPayloadCheck();
                }
                case SETTINGS -> {
                    setting[settingLen++] = data[i++];
                    payloadLeft--;
                    if (settingLen == 6) {
                        settingLen = 0;
                        int id = (setting[0] & 0xff) << 8 | setting[1] & 0xff;
                        long value = ((setting[2] & 0xffL) << 24) | (setting[3] & 0xff) << 16
                                | (setting[4] & 0xff) << 8 | setting[5] & 0xff;
                        if (id == HEADER_TABLE_SIZE) {
                            announcedTableSize = value;
                            if (peer != null && peer.hpack != null) {
                                peer.hpack.settingsLimit(value);
                            }
                        }
                    }
                    endOfPayloadCheck();
                }
                case LOST -> i = resync(data, i, end);
                default -> throw new IllegalStateException(frame.toString());
            }
        }
    }

    private void headerDone() {
        headerLen = 0;
        int length = (header[0] & 0xff) << 16 | (header[1] & 0xff) << 8 | header[2] & 0xff;
        type = header[3] & 0xff;
        flags = header[4] & 0xff;
        streamId = streamOf(header, 5);
        payloadLeft = length;
        padLength = 0;
        fixedLeft = 0;
        if (inBlock != (type == CONTINUATION)) {
            if (inBlock) {
                lose("a header block was interrupted by another frame");
                return;
            }
            // a CONTINUATION whose block began before what was seen: mask it whole
            if (hpack.tableKnown()) {
                notice = "HTTP/2 header state lost (a header block's start was not seen); every header value"
                        + " of this connection is masked until its header table is known again";
                hpack.tableLost();
            }
            blockBlind = true;
            inBlock = true;
        }
        switch (type) {
            case HEADERS, PUSH_PROMISE -> {
                blockBlind = false;
                inBlock = true;
                hpack.blockStart();
                if (lines != null) {
                    lines.append("#stream ").append(streamId).append(type == HEADERS ? " HEADERS" : " PUSH_PROMISE")
                            .append('\n');
                }
                fixedLeft = type == PUSH_PROMISE ? 4 : (flags & PRIORITY_FLAG) != 0 ? 5 : 0;
                if ((flags & PADDED) != 0) {
                    frame = Frame.PAD_LENGTH;
                    if (payloadLeft == 0) {
                        lose("a padded frame without its pad length");
                    }
                    return;
                }
                if (fixedLeft > payloadLeft) {
                    lose("a header frame shorter than its fields");
                    return;
                }
                frame = fixedLeft > 0 ? Frame.FIXED : Frame.FRAGMENT;
            }
            case CONTINUATION -> frame = Frame.FRAGMENT;
            case SETTINGS -> {
                if ((flags & 1) != 0 || length % 6 != 0) {
                    frame = Frame.SKIP;
                } else {
                    frame = Frame.SETTINGS;
                    settingLen = 0;
                }
            }
            default -> frame = Frame.SKIP; // DATA (with its padding), PING, WINDOW_UPDATE, unknown types…
        }
        endOfPayloadCheck();
    }

    /** Ends the frame when its payload is consumed; moves on to padding after a fragment. */
    private void endOfPayloadCheck() {
        if (frame == Frame.LOST || frame == Frame.HEADER || frame == Frame.PAD_LENGTH && payloadLeft > 0) {
            return;
        }
        if (frame == Frame.FIXED && fixedLeft > 0) {
            return;
        }
        if (frame == Frame.FRAGMENT && payloadLeft > padLength) {
            return;
        }
        if (frame == Frame.FRAGMENT && padLength > 0) {
            frame = Frame.PADDING;
        }
        if (payloadLeft > 0) {
            return;
        }
        if (type == HEADERS || type == PUSH_PROMISE || type == CONTINUATION) {
            if ((flags & END_HEADERS) != 0) {
                boolean wasBlind = blockBlind;
                inBlock = false;
                blockBlind = false;
                if (!wasBlind && !hpack.blockEnd()) {
                    lose("a header block ended inside a field");
                    return;
                }
            }
        }
        frame = Frame.HEADER;
        headerLen = 0;
    }

    /**
     * After a loss: masks every byte up to the first point from which the rest of the piece is
     * a valid chain of frames, and goes on from there as at a frame's start.
     */
    private int resync(byte[] data, int from, int end) {
        for (int p = from; p < end; p++) {
            if (chainFrom(data, p, end) > 0) {
                frame = Frame.HEADER;
                headerLen = 0;
                inBlock = false;
                return p;
            }
            data[p] = '*';
            masked++;
        }
        return end;
    }

    /**
     * Whether {@code data[p, end)} is exactly a chain of valid frames, the last one ending at
     * {@code end}: how a connection not seen from its start is taken as HTTP/2. Stricter than
     * {@link #chainFrom} (another binary protocol rarely lands on the end by chance).
     */
    static boolean wholeFrames(byte[] data, int p, int end) {
        int frames = 0;
        while (p + 9 <= end) {
            int length = (data[p] & 0xff) << 16 | (data[p + 1] & 0xff) << 8 | data[p + 2] & 0xff;
            if (frames == 0 && (data[p + 3] & 0xff) == CONTINUATION) {
                return false; // the middle of a block is no place to start following one
            }
            if (chainFrom(data, p, Math.min(end, p + 9)) == 0) {
                return false;
            }
            frames++;
            p += 9 + length;
        }
        return frames > 0 && p == end;
    }

    /**
     * How many whole frame headers a valid chain of frames from {@code p} to {@code end} has (a
     * last frame may run past the end), or 0 if the bytes there are not one: every header must
     * be of a known type with its defined flags, a length that fits its type and the default
     * maximum, and a stream id its type allows.
     */
    static int chainFrom(byte[] data, int p, int end) {
        int frames = 0;
        while (p + 9 <= end) {
            int length = (data[p] & 0xff) << 16 | (data[p + 1] & 0xff) << 8 | data[p + 2] & 0xff;
            int t = data[p + 3] & 0xff;
            int f = data[p + 4] & 0xff;
            if ((data[p + 5] & 0x80) != 0 || length > DEFAULT_MAX_FRAME || !plausible(t, f, length, streamOf(data, p + 5))) {
                return 0;
            }
            frames++;
            p += 9 + length;
        }
        return frames;
    }

    private static boolean plausible(int t, int f, int length, int stream) {
        return switch (t) {
            case DATA -> (f & ~0x9) == 0 && stream != 0;
            case HEADERS -> (f & ~0x2d) == 0 && stream != 0;
            case PRIORITY -> f == 0 && length == 5 && stream != 0;
            case RST_STREAM -> f == 0 && length == 4 && stream != 0;
            case SETTINGS -> (f & ~1) == 0 && length % 6 == 0 && stream == 0 && (f == 0 || length == 0);
            case PUSH_PROMISE -> (f & ~0xc) == 0 && stream != 0 && length >= 4;
            case PING -> (f & ~1) == 0 && length == 8 && stream == 0;
            case GOAWAY -> f == 0 && length >= 8 && stream == 0;
            case WINDOW_UPDATE -> f == 0 && length == 4;
            case CONTINUATION -> (f & ~0x4) == 0 && stream != 0;
            default -> false;
        };
    }

    private static int streamOf(byte[] a, int at) {
        return (a[at] & 0x7f) << 24 | (a[at + 1] & 0xff) << 16 | (a[at + 2] & 0xff) << 8 | a[at + 3] & 0xff;
    }

    private static boolean startsWith(byte[] data, int off, int end, byte[] prefix) {
        return end - off >= prefix.length && java.util.Arrays.equals(data, off, off + prefix.length, prefix, 0,
                prefix.length);
    }

    /** The index after the first CRLFCRLF in {@code data[off, end)}, or -1. */
    private static int indexOfBlankLine(byte[] data, int off, int end) {
        for (int i = off; i + 3 < end; i++) {
            if (data[i] == '\r' && data[i + 1] == '\n' && data[i + 2] == '\r' && data[i + 3] == '\n') {
                return i + 4;
            }
        }
        return -1;
    }
}
