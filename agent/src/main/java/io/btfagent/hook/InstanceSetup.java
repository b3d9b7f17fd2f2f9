package io.btfagent.hook;

import io.btfagent.bpf.CaptureObject;
import io.btfagent.event.RecordDecoder;
import io.btfagent.event.RecordRouter;
import io.btfagent.tls.LibraryScanner;
import io.btfagent.tls.TlsLibrary;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * What every library's instance of the capture object is made with: the object and its rodata
 * settings, the one ring ({@code ringFd}), this process, the kernel's BTF, how probes attach,
 * the router its records go to, and the ids that tell libraries apart in cookies.
 */
public record InstanceSetup(CaptureObject object, CaptureObject.Settings settings, int ringFd, int pid,
        String kernelBtf, CaptureObject.AttachMode attachMode, boolean multiUsable, RecordRouter router,
        long monotonicToEpoch, AtomicInteger ids) {

    /** The id of the next library hooked (ids start at 1: cookie 0 is the dynamic linker's). */
    int nextId() {
        return ids.getAndIncrement();
    }

    /** The decoder of records of {@code lib}, found as {@code file}. */
    RecordDecoder decoder(TlsLibrary lib, String version, LibraryScanner.LibraryFile file) {
        return new RecordDecoder(object.layout(), new RecordDecoder.Source(lib.family(), version,
                file.path().toString()), monotonicToEpoch);
    }
}
