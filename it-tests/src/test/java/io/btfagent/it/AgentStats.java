package io.btfagent.it;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Map;

/**
 * The counters a child's agent wrote in its JSON stats line ({@code capture stats {...}}, at
 * exit and every stats.interval): the last such line, so the totals at exit.
 */
record AgentStats(Map<String, Object> fields) {
    static final String PREFIX = "capture stats {";

    static AgentStats of(List<String> agentLines) {
        String line = null;
        for (String l : agentLines) {
            if (l.contains(PREFIX)) {
                line = l;
            }
        }
        assertTrue(line != null, "no stats line in:\n" + String.join("\n", agentLines));
        return new AgentStats(CapturedEvents.parseObject(line.substring(line.indexOf(PREFIX) + PREFIX.length() - 1)));
    }

    static AgentStats of(ChildJvm.Result r) {
        return of(r.agentLines());
    }

    /** A top-level counter, e.g. {@code records_lost}. */
    long counter(String key) {
        Object v = fields.get(key);
        assertTrue(v instanceof Long, key + " in " + fields);
        return (Long) v;
    }

    /** A sink's figure: {@code delivered}, {@code dropped} or {@code failed}. */
    @SuppressWarnings("unchecked")
    long sink(String name, String figure) {
        Object sinks = fields.get("sinks");
        assertTrue(sinks instanceof Map, "sinks in " + fields);
        Object s = ((Map<String, Object>) sinks).get(name);
        assertTrue(s instanceof Map, "sink " + name + " in " + fields);
        Object v = ((Map<String, Object>) s).get(figure);
        assertTrue(v instanceof Long, figure + " of sink " + name + " in " + fields);
        return (Long) v;
    }

    @Override
    public String toString() {
        return fields.toString();
    }
}
