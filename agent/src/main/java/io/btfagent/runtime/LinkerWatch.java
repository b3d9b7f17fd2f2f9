package io.btfagent.runtime;

import io.btfagent.bpf.ProcessAccess;
import io.btfagent.bpf.BpfException;
import io.btfagent.bpf.BtfMerger;
import io.btfagent.bpf.BpfObject;
import io.btfagent.bpf.CaptureObject;
import io.btfagent.bpf.UprobeLink;
import io.btfagent.hook.InstanceSetup;
import io.btfagent.tls.LibraryScanner;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;

/**
 * The probe on the dynamic linker's {@code _dl_debug_state}: a library mapped by native code
 * (dlopen from C) wakes a rescan at once rather than at the next periodic one, and the scan it
 * woke says how long after the linker's report the library was hooked.
 */
final class LinkerWatch {
    /** Called (on the ring thread) when the dynamic linker reports a change of the mapped libraries. */
    private volatile Runnable onMapped = () -> { };
    /** Kernel time of the first linker report since the last scan began, 0 if none. */
    private final AtomicLong reportNs = new AtomicLong();
    /** The scan in progress was woken by the linker at this kernel time (0: it was not); scans run one at a time. */
    private long scanWokenAtNs;
    private volatile BpfObject object;
    private final InstanceSetup setup;
    private final Consumer<String> debug;

    /** Listens to the linker records of {@code setup}'s router. */
    LinkerWatch(InstanceSetup setup, Consumer<String> debug) {
        this.setup = setup;
        this.debug = debug;
        setup.router().onLinker(ts -> {
            reportNs.compareAndSet(0, ts);
            onMapped.run();
        });
    }

    /** Sets what runs (on the ring thread) when the dynamic linker reports a change of the mapped libraries. */
    void onMapped(Runnable r) {
        this.onMapped = r;
    }

    /**
     * Probes the dynamic linker's {@code _dl_debug_state} in this process, so that a library
     * mapped by native code is looked for at once rather than at the next periodic scan.
     * Returns why it could not, as one line.
     */
    Optional<String> attach() {
        Optional<String> ld;
        try {
            ld = LibraryScanner.dynamicLinker(Files.readString(Path.of("/proc/self/maps")));
        } catch (IOException e) {
            return Optional.of("cannot read /proc/self/maps (" + e + ")");
        }
        if (ld.isEmpty()) {
            return Optional.of("no dynamic linker (ld-linux*) mapped");
        }
        try (BtfMerger.Merged kernel = BtfMerger.kernelOnly(setup.kernelBtf(), setup.object().kernelTypeNames())) {
            boolean multi = setup.attachMode() != CaptureObject.AttachMode.SINGLE && setup.multiUsable();
            try {
                object = setup.object().attachLinker(kernel.path(), setup.settings(), setup.ringFd(), setup.pid(),
                        ld.get(), multi);
            } catch (BpfException e) {
                if (!multi || setup.attachMode() == CaptureObject.AttachMode.MULTI) {
                    throw e;
                }
                debug.accept("uprobe_multi on the dynamic linker failed (" + e.getMessage() + "); a single uprobe");
                object = setup.object().attachLinker(kernel.path(), setup.settings(), setup.ringFd(), setup.pid(),
                        ld.get(), false);
            }
            debug.accept("probing the dynamic linker " + ld.get());
            return Optional.empty();
        } catch (java.io.IOException | BpfException | RuntimeException e) {
            return Optional.of("cannot probe the dynamic linker " + ld.get() + " (" + e.getMessage()
                    + ProcessAccess.cause(e) + ")");
        }
    }

    /** A scan begins: it was woken by the linker if a report came since the last one began. */
    void scanStarts() {
        scanWokenAtNs = reportNs.getAndSet(0);
    }

    /** ", N ms after the dynamic linker reported it mapped" when the running scan was woken by the linker. */
    String sinceReport() {
        if (scanWokenAtNs == 0) {
            return "";
        }
        return String.format(Locale.ROOT, ", %.1f ms after the dynamic linker reported it mapped",
                (System.nanoTime() - scanWokenAtNs) / 1e6);
    }

    /** The probe's links (none if it is not attached). */
    List<UprobeLink> links() {
        BpfObject o = object;
        return o == null ? List.of() : o.links();
    }

    void close() {
        BpfObject o = object;
        if (o != null) {
            o.close();
            object = null;
        }
    }
}
