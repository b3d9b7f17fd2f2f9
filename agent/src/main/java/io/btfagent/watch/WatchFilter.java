package io.btfagent.watch;

import io.btfagent.event.EventView;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Pattern;
import java.util.regex.PatternSyntaxException;

/**
 * Which events {@code watch} shows: {@code conn=N}, {@code port=N} (either end),
 * {@code remote=TEXT} (part of the remote address), {@code dir=egress|ingress},
 * {@code grep=REGEX} (in the data, read as ISO-8859-1, or in the decoded HTTP/2 headers).
 * All given must hold. {@code queue=N}, the most events waiting for a slow terminal, is read
 * here too. Parsed from the comma-separated {@code key=value} list the command
 * line was given; keys that are not filters are left for the agent's configuration.
 */
public final class WatchFilter {
    /** The keys this class takes from a watch command's options. */
    public static final List<String> KEYS = List.of("conn", "port", "remote", "dir", "grep", "queue");

    private final long conn;
    private final int port;
    private final String remote;
    private final Boolean egress;
    private final Pattern grep;
    private final int queue;

    /** Events a watch's queue holds unless {@code queue=} says otherwise. */
    public static final int DEFAULT_QUEUE = 4096;

    private WatchFilter(long conn, int port, String remote, Boolean egress, Pattern grep, int queue) {
        this.conn = conn;
        this.port = port;
        this.remote = remote;
        this.egress = egress;
        this.grep = grep;
        this.queue = queue;
    }

    /** The most events waiting for the terminal before the watch drops (and counts) them. */
    public int queue() {
        return queue;
    }

    /** Every event. */
    public static WatchFilter all() {
        return new WatchFilter(0, 0, null, null, null, DEFAULT_QUEUE);
    }

    /**
     * The filter of the {@code key=value} items among {@code items} whose key is a filter's;
     * throws IllegalArgumentException with one line for a bad value.
     */
    public static WatchFilter parse(List<String> items) {
        long conn = 0;
        int port = 0;
        String remote = null;
        Boolean egress = null;
        Pattern grep = null;
        int queue = DEFAULT_QUEUE;
        for (String item : items) {
            int eq = item.indexOf('=');
            if (eq <= 0) {
                continue;
            }
            String key = item.substring(0, eq);
            String value = item.substring(eq + 1);
            switch (key) {
                case "conn" -> conn = number(key, value, Long.MAX_VALUE);
                case "port" -> port = (int) number(key, value, 65535);
                case "remote" -> remote = value;
                case "queue" -> queue = (int) number(key, value, 1 << 20);
                case "dir" -> {
                    String d = value.toLowerCase(Locale.ROOT);
                    if (!d.equals("egress") && !d.equals("ingress")) {
                        throw new IllegalArgumentException("dir=" + value + ": use dir=egress or dir=ingress");
                    }
                    egress = d.equals("egress");
                }
                case "grep" -> {
                    try {
                        grep = Pattern.compile(value);
                    } catch (PatternSyntaxException e) {
                        throw new IllegalArgumentException("grep=" + value + " is not a regular expression: "
                                + e.getDescription());
                    }
                }
                default -> {
                    // an agent setting
                }
            }
        }
        return new WatchFilter(conn, port, remote, egress, grep, queue);
    }

    /** The items that are not filters: settings for an agent the command attaches. */
    public static List<String> settings(List<String> items) {
        List<String> rest = new ArrayList<>();
        for (String item : items) {
            int eq = item.indexOf('=');
            if (eq <= 0 || !KEYS.contains(item.substring(0, eq))) {
                rest.add(item);
            }
        }
        return rest;
    }

    private static long number(String key, String value, long max) {
        try {
            long n = Long.parseLong(value);
            if (n > 0 && n <= max) {
                return n;
            }
        } catch (NumberFormatException e) {
            // said below
        }
        throw new IllegalArgumentException(key + "=" + value + ": a number from 1 to " + max);
    }

    /** Whether {@code e} is to be shown. */
    public boolean accepts(EventView e) {
        if (conn != 0 && e.conn() != conn) {
            return false;
        }
        if (egress != null && e.egress() != egress) {
            return false;
        }
        if (port != 0 && !(endsWithPort(e.local()) || endsWithPort(e.remote()))) {
            return false;
        }
        if (remote != null && (e.remote() == null || !e.remote().contains(remote))) {
            return false;
        }
        if (grep != null) {
            String text = new String(e.array(), e.dataOffset(), e.dataLength(), StandardCharsets.ISO_8859_1);
            return grep.matcher(text).find() || (e.headers() != null && grep.matcher(e.headers()).find());
        }
        return true;
    }

    private boolean endsWithPort(String address) {
        return address != null && address.endsWith(":" + port);
    }
}
