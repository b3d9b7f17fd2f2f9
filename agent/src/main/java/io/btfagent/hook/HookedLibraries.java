package io.btfagent.hook;

import ch.qos.logback.classic.Logger;
import io.btfagent.bpf.BpfException;
import io.btfagent.bpf.CaptureObject;
import io.btfagent.bpf.UprobeLink;
import io.btfagent.tls.LibraryScanner;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The libraries a capture hooked (by file and by id) and those it refused, so that neither is
 * tried again, and the one place that says why a library is refused.
 */
public final class HookedLibraries {
    private final Logger log;
    private final Map<String, HookedLibrary> hooked = new ConcurrentHashMap<>();
    private final Map<Integer, HookedLibrary> byId = new ConcurrentHashMap<>();
    private final Set<String> refused = ConcurrentHashMap.newKeySet();
    private final Set<String> refusedQuietly = ConcurrentHashMap.newKeySet();
    private final Map<String, String> refusals = new ConcurrentHashMap<>();

    public HookedLibraries(Logger log) {
        this.log = log;
    }

    /** Whether {@code f} was hooked or refused already (a quiet refusal counts until it is mapped). */
    public boolean decided(LibraryScanner.LibraryFile f, boolean mapped) {
        return hooked.containsKey(f.fileKey()) || refused.contains(f.fileKey())
                || (!mapped && refusedQuietly.contains(f.fileKey()));
    }

    public void add(LibraryScanner.LibraryFile f, HookedLibrary h) {
        hooked.put(f.fileKey(), h);
        byId.put(h.id(), h);
    }

    /** The library of id {@code id}, or null (none, or its hook is still running). */
    public HookedLibrary byId(int id) {
        return byId.get(id);
    }

    /**
     * Remembers not to try {@code file} again, and says why once: as a warning if the process
     * has it mapped, else at debug level (and as a warning once it is mapped).
     */
    public void refuse(LibraryScanner.LibraryFile file, boolean mapped, String line) {
        refusals.put(file.fileKey(), line);
        if (mapped) {
            refused.add(file.fileKey());
            refusedQuietly.remove(file.fileKey());
            log.warn(line);
        } else {
            refusedQuietly.add(file.fileKey());
            log.debug(line);
        }
    }

    /** Why each library refused so far was not hooked (the line {@link #refuse} was given), hooked ones left out. */
    public List<String> refusals() {
        List<String> out = new ArrayList<>();
        refusals.forEach((key, line) -> {
            if (!hooked.containsKey(key)) {
                out.add(line);
            }
        });
        java.util.Collections.sort(out);
        return out;
    }

        public int size() {
        return hooked.size();
    }

    /** The kernel side's {@code n} counters, summed over every hooked library. */
    public long[] kernelCounters(int n) {
        long[] sum = new long[n];
        for (HookedLibrary h : hooked.values()) {
            try {
                long[] c = CaptureObject.counters(h.object(), n);
                for (int i = 0; i < n; i++) {
                    sum[i] += c[i];
                }
            } catch (BpfException e) {
                log.debug("cannot read counters: {}", e.getMessage());
            }
        }
        return sum;
    }

    /** Functions probed on emulated instructions, over every hooked library. */
    public int movedFunctions() {
        return hooked.values().stream().mapToInt(HookedLibrary::moved).sum();
    }

    /** Functions probed at their entry, over every hooked library. */
    public int entryFunctions() {
        return hooked.values().stream().mapToInt(h -> h.library().functions().size() - h.moved()).sum();
    }

    /** Every probe of every hooked library. */
    public List<UprobeLink> links() {
        List<UprobeLink> out = new ArrayList<>();
        hooked.values().forEach(h -> out.addAll(h.object().links()));
        return out;
    }

    /** One line per hooked library (see {@link HookedLibrary#statusLine}), sorted. */
    public List<String> statusLines() {
        List<String> out = new ArrayList<>();
        for (HookedLibrary h : hooked.values()) {
            out.add(h.statusLine());
        }
        out.sort(null);
        return out;
    }

    /** Closes every library's instance (its probes and maps) and forgets them. */
    public void closeAll() {
        for (HookedLibrary h : hooked.values()) {
            h.object().close();
        }
        hooked.clear();
        byId.clear();
    }
}
