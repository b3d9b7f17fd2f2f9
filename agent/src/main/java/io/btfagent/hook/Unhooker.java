package io.btfagent.hook;

import ch.qos.logback.classic.Logger;
import io.btfagent.event.RecordRouter;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;

/**
 * Detaches the libraries the ring thread refused, on its own thread {@code btf-agent-unhook}:
 * each detach waits for a kernel grace period, and the ring thread must keep decoding every
 * other library meanwhile.
 */
public final class Unhooker {
    private final HookedLibraries libraries;
    private final Logger log;
    private final BlockingQueue<RecordRouter.Refusal> refusals = new LinkedBlockingQueue<>();
    private final Thread thread;

    /** Starts the thread. */
    public Unhooker(HookedLibraries libraries, Logger log) {
        this.libraries = libraries;
        this.log = log;
        this.thread = new Thread(this::run, "btf-agent-unhook");
        this.thread.setDaemon(true);
        this.thread.start();
    }

    /** Called on the ring thread: hands the refusal on, never blocks. */
    public void refused(RecordRouter.Refusal r) {
        refusals.add(r);
    }

    private void run() {
        try {
            while (true) {
                RecordRouter.Refusal r = refusals.take();
                HookedLibrary h = libraries.byId(r.id());
                if (h != null) { // else its hook is still running and unhooks it on arrival
                    unhook(h, r.problem());
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Says that {@code h} is unhooked and why, then detaches its probes; once per library. */
    public void unhook(HookedLibrary h, String problem) {
        if (!h.unhooked().compareAndSet(false, true)) {
            return;
        }
        // said before the detach (tens of milliseconds), so that a JVM exiting meanwhile still says it
        log.warn("unhooked {} {} at {} (build-id {}): BTF {} does not describe this build: {}; nothing read "
                + "through it was reported; supply the BTF of this exact build in btf.path as {}.btf",
                h.library().family(), h.version(), h.library().path(), h.library().buildId(), h.origin(), problem,
                h.library().buildId());
        h.object().detach();
    }

    /**
     * Unhooks, on the calling thread, what is refused and not yet taken (refusals of the last
     * records read are still said), and ends the thread.
     */
    public void drainAndStop() {
        for (RecordRouter.Refusal r; (r = refusals.poll()) != null; ) {
            HookedLibrary h = libraries.byId(r.id());
            if (h != null) {
                unhook(h, r.problem());
            }
        }
        thread.interrupt();
    }

    public void join(long ms) throws InterruptedException {
        thread.join(ms);
    }
}
