package io.btfagent.runtime;

import ch.qos.logback.classic.Logger;
import io.btfagent.instrument.LibraryLoadInstrumentation;
import java.lang.instrument.Instrumentation;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Hooks libraries loaded after start as soon as they are mapped. A load through Java
 * ({@code System.load}, JNA, FFM) reports itself through the instrumented loading methods and
 * waits, at most {@code late-loads.wait-ms} (200 ms by default), for the rescan that hooks it, so a library's very
 * first TLS call is already captured. A library mapped by native code (dlopen from C) wakes the
 * same rescan from the dynamic linker's probe ({@link #wake}). Every rescan runs on the one
 * thread {@code btf-agent-scan}.
 */
final class LateLoads {
    /** The longest a loading thread of the application is held (late-loads.wait-ms). */
    private final long loadWaitMs;

    private final Capture capture;
    private final Logger log;
    private final ExecutorService scanner = Executors.newSingleThreadExecutor(r -> {
        Thread t = new Thread(r, "btf-agent-scan");
        t.setDaemon(true);
        return t;
    });
    private final AtomicBoolean wakePending = new AtomicBoolean();
    private volatile boolean closed;

    LateLoads(Capture capture, Logger log, long loadWaitMs) {
        this.capture = capture;
        this.log = log;
        this.loadWaitMs = loadWaitMs;
    }

    /**
     * Instruments the JDK's and JNA's library loading to call {@link #onJavaLoad}. Any failure is
     * one line; libraries are then still found by the maps scan, later.
     */
    void instrument(Instrumentation inst) {
        if (inst == null) {
            log.warn("no Instrumentation given to the agent: libraries loaded later are hooked by the maps scan "
                    + "only, after their first calls");
            return;
        }
        long t0 = System.nanoTime();
        try {
            Class<?> bridge = LibraryLoadInstrumentation.injectBridges(inst);
            LibraryLoadInstrumentation.install(inst, bridge, this::onJavaLoad, log::warn);
            log.debug("library loads instrumented in {} ms", (System.nanoTime() - t0) / 1_000_000);
        } catch (Throwable t) {
            log.warn("cannot instrument the JVM's library loading ({}); libraries loaded later are hooked by the "
                    + "maps scan only, after their first calls", String.valueOf(t));
        }
    }

    /** Runs a scan (of the maps, and of {@code watched}) on the scan thread; every scan comes through here. */
    Future<?> rescan(List<java.nio.file.Path> watched) {
        return scanner.submit(() -> capture.scan(watched));
    }

    /**
     * The dynamic linker mapped something (called on the ring thread): rescan soon, without
     * queueing a rescan per notification.
     */
    void wake() {
        if (!closed && wakePending.compareAndSet(false, true)) {
            scanner.submit(() -> {
                wakePending.set(false);
                capture.scan(List.of());
            });
        }
    }

    /**
     * Called on the application's thread, inside its System.load/JNA/FFM call, once the library
     * is mapped. The agent's own threads (loading their own natives) are not held.
     */
    private void onJavaLoad(String name) {
        if (closed || Thread.currentThread().getName().startsWith("btf-agent")) {
            return;
        }
        long t0 = System.nanoTime();
        Future<?> done = rescan(List.of());
        try {
            done.get(loadWaitMs, TimeUnit.MILLISECONDS);
            log.debug("load of {}: rescanned in {} us before it returned", name, (System.nanoTime() - t0) / 1000);
        } catch (TimeoutException e) {
            log.warn("the load of {} returned to the application before the agent finished looking at it ({} ms "
                    + "bound); calls it makes before the hook is in place are not captured", name, loadWaitMs);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (Exception e) {
            log.debug("rescan after loading {} failed: {}", name, e.toString());
        }
    }

    /**
     * After a detach: the loading methods' advice (installed in JDK classes, which cannot be
     * unloaded) keeps calling {@link #onJavaLoad}, which then returns at once; the scan thread
     * ends once its current scan is done.
     */
    void close() {
        closed = true;
        scanner.shutdown();
        try {
            scanner.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}
