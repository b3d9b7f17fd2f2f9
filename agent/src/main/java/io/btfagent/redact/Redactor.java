package io.btfagent.redact;

import io.btfagent.event.CaptureEvent;
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
 * header split between two records of a call, or two reads, is still masked). Patterns are
 * matched within one record.
 *
 * <p>Runs on the ring-reader thread only (one instance, not thread-safe).
 */
public final class Redactor implements UnaryOperator<CaptureEvent> {
    public static final Set<String> DEFAULT_HEADERS =
            Set.of("authorization", "proxy-authorization", "cookie", "set-cookie");
    /** Streams followed at once; the least recently seen is forgotten beyond this (and starts afresh). */
    static final int MAX_STREAMS = 4096;

    private final Set<String> headers;
    private final List<Pattern> patterns;
    private final Map<StreamKey, Stream> streams = new LinkedHashMap<>(256, 0.75f, true) {
        @Override
        protected boolean removeEldestEntry(Map.Entry<StreamKey, Stream> eldest) {
            return size() > MAX_STREAMS;
        }
    };

    /**
     * One direction of one connection. Until events carry a connection id, a connection is
     * its TLS object ({@code ssl}); this is the one place that decides it.
     */
    record StreamKey(long connection, boolean egress) {
        static StreamKey of(CaptureEvent e) {
            return new StreamKey(e.ssl(), e.egress());
        }
    }

    /** Where a stream's header parsing stands, and where its bytes should continue. */
    private final class Stream {
        final HeaderMasker masker = new HeaderMasker(headers);
        long callLen;
        long nextOffset;
    }

    public Redactor(Set<String> headers, List<Pattern> patterns) {
        Set<String> lower = new LinkedHashSet<>();
        headers.forEach(h -> lower.add(h.toLowerCase(Locale.ROOT)));
        this.headers = Set.copyOf(lower);
        this.patterns = List.copyOf(patterns);
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
        return new Redactor(names, compiled);
    }

    /**
     * Masks in place: the event must not have been shared yet (the decoder's fresh event, on
     * its way to the dispatcher).
     */
    @Override
    public CaptureEvent apply(CaptureEvent e) {
        byte[] data = e.data();
        int masked = 0;
        if (!headers.isEmpty() && data.length > 0) {
            Stream s = streams.computeIfAbsent(StreamKey.of(e), k -> new Stream());
            boolean contiguous = e.offset() == 0 ? s.nextOffset >= s.callLen : e.offset() == s.nextOffset;
            if (!contiguous) {
                s.masker.gap();
            }
            masked = s.masker.mask(data, 0, data.length);
            s.callLen = e.len();
            s.nextOffset = e.offset() + data.length;
        }
        if (!patterns.isEmpty() && data.length > 0) {
            masked += maskPatterns(data);
        }
        return masked == 0 ? e : e.redactedAs(data);
    }

    private int maskPatterns(byte[] data) {
        // ISO-8859-1 maps each byte to one char, so string indexes are byte indexes
        String text = new String(data, StandardCharsets.ISO_8859_1);
        int masked = 0;
        for (Pattern p : patterns) {
            Matcher m = p.matcher(text);
            while (m.find()) {
                int group = m.groupCount() >= 1 && m.start(1) >= 0 ? 1 : 0;
                for (int i = m.start(group); i < m.end(group); i++) {
                    data[i] = '*';
                    masked++;
                }
            }
        }
        return masked;
    }
}
