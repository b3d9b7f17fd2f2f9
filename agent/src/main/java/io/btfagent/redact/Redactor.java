package io.btfagent.redact;

import io.btfagent.event.CaptureEvent;
import io.btfagent.event.EventView;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.function.UnaryOperator;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * Masks credentials in events before any sink sees them: the values of HTTP/1 headers that
 * carry them ({@link #DEFAULT_HEADERS} plus {@code redact.headers}), and whatever the regular
 * expressions of {@code redact.patterns} match. Every masked byte becomes {@code '*'}, so
 * {@code len}, {@code offset} and {@code captured} stay true, and the event says
 * {@code redacted}.
 *
 * <p>Headers are followed per direction of each connection across records and calls (a
 * header split between two records of a call, or two reads, is still masked). A connection
 * that speaks HTTP/2 (told by its bytes: {@link Http2Masker}) has its HPACK header blocks
 * decoded and the same headers' values masked there, keeping the blocks decodable; where the
 * decoder's state is not known it masks every header value, and says so once per connection.
 * Patterns are matched within one record, and on decoded HTTP/2 header values.
 *
 * <p>Runs on the ring-reader thread only (one instance, not thread-safe).
 */
public final class Redactor implements UnaryOperator<CaptureEvent> {
    public static final Set<String> DEFAULT_HEADERS =
            Set.of("authorization", "proxy-authorization", "cookie", "set-cookie");
    /** Streams followed at once; the least recently seen is forgotten beyond this (and starts afresh). */
    static final int MAX_STREAMS = 4096;

    private final Set<String> headers;
    private final byte[][] nameBytes;
    /** Decoded HTTP/2 header values matched against the patterns; null without patterns. */
    private final HpackMasker.ValueCheck valueCheck;
    private final Latin1Text valueText = new Latin1Text();
    private java.util.function.Consumer<String> notices = n -> { };
    /** Whether decoded HTTP/2 header lists are put on events (for sinks that show them). */
    private boolean describe;
    private final StringBuilder lines = new StringBuilder();
    /** Bumped by {@link #recordsLost} on another thread; the ring thread compares it per event. */
    private volatile long lossEpoch;
    private long lossSeen;
    private final List<Pattern> patterns;
    /** One matcher per pattern, reset for each record over {@link #text}. */
    private final Matcher[] matchers;
    private final Latin1Text text = new Latin1Text();
    private byte[] snapshot = new byte[0];
    /** The key a lookup is made with; a stream's own key is a copy. */
    private final StreamKey probe = new StreamKey(0, false);
    private final Map<StreamKey, Stream> streams = new LinkedHashMap<>(256, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<StreamKey, Stream> eldest) {
            return size() > MAX_STREAMS;
        }
    };

    /**
     * One direction of one connection: its {@code conn} where it has one (unique across native
     * and JSSE connections; a TLS object's pointer reused after free is a new conn, with new
     * HTTP/2 state), else its TLS object ({@code ssl}); this is the one place that decides it.
     */
    static final class StreamKey {
        long connection;
        boolean egress;

        StreamKey(long connection, boolean egress) {
            this.connection = connection;
            this.egress = egress;
        }

        @Override
        public boolean equals(Object o) {
            return o instanceof StreamKey k && k.connection == connection && k.egress == egress;
        }

        @Override
        public int hashCode() {
            return Long.hashCode(connection) * 31 + (egress ? 1 : 0);
        }
    }

    /** Where a stream's header parsing stands, and where its bytes should continue. */
    private final class Stream {
        final Http2Masker masker = new Http2Masker(nameBytes, valueCheck, new HeaderMasker(headers));
        Stream peer;
        /** A line about this connection was logged (once per connection). */
        boolean told;
        long callLen;
        long nextOffset;
    }

    public Redactor(Set<String> headers, List<Pattern> patterns) {
        Set<String> lower = new LinkedHashSet<>();
        headers.forEach(h -> lower.add(h.toLowerCase(Locale.ROOT)));
        this.headers = Set.copyOf(lower);
        this.nameBytes = this.headers.stream().map(h -> h.getBytes(StandardCharsets.ISO_8859_1)).toArray(byte[][]::new);
        this.patterns = List.copyOf(patterns);
        this.matchers = new Matcher[this.patterns.size()];
        for (int i = 0; i < matchers.length; i++) {
            matchers[i] = this.patterns.get(i).matcher("");
        }
        this.valueCheck = matchers.length == 0 ? null : this::valueMatches;
    }

    /** Where lines about connections go (a connection whose HTTP/2 header state was lost). */
    public Redactor notices(java.util.function.Consumer<String> sink) {
        this.notices = sink;
        return this;
    }

    /** Puts the decoded, masked header list of HTTP/2 records on their events ({@link EventView#headers()}). */
    public Redactor describeHeaders(boolean on) {
        this.describe = on;
        return this;
    }

    private boolean valueMatches(byte[] value, int len) {
        valueText.of(value, 0, len);
        try {
            for (Matcher m : matchers) {
                m.reset(valueText);
                if (m.find()) {
                    return true;
                }
            }
            return false;
        } finally {
            valueText.of(null, 0, 0);
        }
    }

    /**
     * The redactor the settings ask for, or null for {@code redact=none}.
     *
     * @param mode {@code redact}: {@code http-headers} (default) or {@code none}
     * @param extraHeaders {@code redact.headers}: more header names, comma separated
     * @param patterns {@code redact.patterns}: regular expressions, separated by {@code ;;}
     *     or given one per numbered key; the first group, if any, is what is masked
     * @param problems one line per bad setting; a bad setting never turns redaction off
     */
    public static Redactor fromSettings(String mode, String extraHeaders, List<String> patterns,
            java.util.function.Consumer<String> problems) {
        String m = mode == null ? "http-headers" : mode.trim().toLowerCase(Locale.ROOT);
        if (m.equals("none")) {
            return null;
        }
        if (!m.equals("http-headers")) {
            problems.accept("redact=" + mode + " is not one of http-headers, none; masking HTTP headers as by default");
        }
        Set<String> names = new LinkedHashSet<>(DEFAULT_HEADERS);
        if (extraHeaders != null) {
            for (String h : extraHeaders.split(",")) {
                if (!h.isBlank()) {
                    names.add(h.trim().toLowerCase(Locale.ROOT));
                }
            }
        }
        List<Pattern> compiled = new ArrayList<>();
        for (String p : patterns) {
            try {
                compiled.add(Pattern.compile(p));
            } catch (PatternSyntaxException e) {
                problems.accept("redact.patterns: '" + p + "' is not a regular expression ("
                        + e.getDescription() + " at index " + e.getIndex() + "); that pattern is not used");
            }
        }
        return new Redactor(names, compiled).notices(problems);
    }

    /**
     * Masks in place: the event must not have been shared yet (the decoder's fresh event, on
     * its way to the dispatcher).
     */
    @Override
    public CaptureEvent apply(CaptureEvent e) {
        byte[] data = e.data();
        int masked = mask(e.conn(), e.ssl(), e.egress(), e.len(), e.offset(), data, 0, data.length);
        String h = describe && lines.length() > 0 ? lines.toString() : null;
        if (h != null) {
            return new CaptureEvent(e.epochNanos(), e.pid(), e.tid(), e.thread(), e.lib(), e.libVersion(), e.libPath(),
                    e.func(), e.dir(), e.ssl(), e.conn(), e.role(), e.fd(), e.local(), e.remote(), e.len(), e.offset(),
                    e.captured(), e.truncated(), data, e.redacted() || masked > 0, h);
        }
        return masked == 0 ? e : e.redactedAs(data);
    }

    /**
     * Masks the view's data in place and marks it redacted if anything was masked; allocates
     * nothing for a stream seen before. The view must not have been handed to a sink yet.
     */
    public void mask(EventView v) {
        if (mask(v.conn(), v.ssl(), v.egress(), v.len(), v.offset(), v.array(), v.dataOffset(), v.dataLength()) > 0) {
            v.markRedacted();
        }
        if (describe && lines.length() > 0) {
            v.headers(lines.toString());
        }
    }

    /**
     * Records were lost to a full ring, of connections not known: every HTTP/2 stream followed
     * takes its next bytes as coming after a loss (fail closed). Callable from any thread.
     */
    public void recordsLost() {
        lossEpoch++; // one writer (the agent's main loop)
    }

    private int mask(long conn, long ssl, boolean egress, long callLen, long offset, byte[] data, int off, int len) {
        int masked = 0;
        lines.setLength(0);
        long epoch = lossEpoch;
        if (epoch != lossSeen) {
            lossSeen = epoch;
            for (Stream s : streams.values()) {
                if (s.masker.mode() == Http2Masker.Mode.HTTP2) {
                    s.masker.gap(-1);
                }
            }
        }
        if (!headers.isEmpty() && len > 0) {
            long connection = conn != 0 ? conn : ssl;
            Stream s = stream(connection, egress);
            long missing = missing(s, offset);
            if (missing != 0) {
                s.masker.gap(missing);
            }
            masked = s.masker.mask(data, off, len, describe ? lines : null);
            s.callLen = callLen;
            s.nextOffset = offset + len;
            String notice = s.masker.takeNotice();
            if (notice != null && !s.told && (s.peer == null || !s.peer.told)) {
                s.told = true;
                notices.accept("conn " + connection + " (" + (egress ? "egress" : "ingress") + "): " + notice);
            }
        }
        if (matchers.length > 0 && len > 0) {
            masked += maskPatterns(data, off, len);
        }
        return masked;
    }

    private Stream stream(long connection, boolean egress) {
        probe.connection = connection;
        probe.egress = egress;
        Stream s = streams.get(probe);
        if (s == null) {
            s = new Stream();
            streams.put(new StreamKey(connection, egress), s);
            probe.egress = !egress;
            Stream peer = streams.get(probe);
            if (peer != null) {
                s.peer = peer;
                peer.peer = s;
                s.masker.peer(peer.masker);
                peer.masker.peer(s.masker);
            }
        }
        return s;
    }

    /**
     * Bytes of this direction not seen between its last record and one starting at
     * {@code offset} of its call: 0 when contiguous, -1 when not known.
     */
    private static long missing(Stream s, long offset) {
        boolean previousDone = s.nextOffset >= s.callLen;
        if (offset == 0) {
            return previousDone ? 0 : s.callLen - s.nextOffset;
        }
        if (previousDone) {
            return offset; // a new call whose first records were lost
        }
        return offset > s.nextOffset ? offset - s.nextOffset : offset == s.nextOffset ? 0 : -1;
    }

    private int maskPatterns(byte[] data, int off, int len) {
        // matched on a copy, so that every pattern sees the bytes as they came, whatever an
        // earlier match masked
        if (snapshot.length < len) {
            snapshot = new byte[Math.max(len, 8192)];
        }
        System.arraycopy(data, off, snapshot, 0, len);
        text.of(snapshot, 0, len);
        int masked = 0;
        for (Matcher m : matchers) {
            m.reset(text);
            while (m.find()) {
                int group = m.groupCount() >= 1 && m.start(1) >= 0 ? 1 : 0;
                for (int i = m.start(group); i < m.end(group); i++) {
                    data[off + i] = '*';
                    masked++;
                }
            }
        }
        text.of(null, 0, 0);
        return masked;
    }

    /** Bytes read as ISO-8859-1 characters without a copy: a match's indexes are byte indexes. */
    private static final class Latin1Text implements CharSequence {
        private byte[] a;
        private int off;
        private int len;

        void of(byte[] a, int off, int len) {
            this.a = a;
            this.off = off;
            this.len = len;
        }

        @Override
        public int length() {
            return len;
        }

        @Override
        public char charAt(int index) {
            if (index < 0 || index >= len) {
                throw new IndexOutOfBoundsException(index);
            }
            return (char) (a[off + index] & 0xff);
        }

        @Override
        public CharSequence subSequence(int start, int end) {
            return new String(a, off + start, end - start, StandardCharsets.ISO_8859_1);
        }

        @Override
        public String toString() {
            return new String(a, off, len, StandardCharsets.ISO_8859_1);
        }
    }
}
