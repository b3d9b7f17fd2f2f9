package io.btfagent.hook;

import io.btfagent.tls.LibraryScanner;
import io.btfagent.tls.TlsLibrary;

/** How one kind of TLS library gets its probes: {@link BtfBackedHook} or {@link SymbolOnlyHook}. */
public sealed interface LibraryHook permits BtfBackedHook, SymbolOnlyHook {

    /**
     * Routes {@code lib}'s records and attaches its probes; {@code file} is how it was found,
     * {@code t0} (System.nanoTime) when looking at it began. On any failure nothing of it stays
     * attached or routed, and the exception says why in one line.
     */
    HookedLibrary attach(LibraryScanner.LibraryFile file, TlsLibrary lib, long t0) throws HookRefused;
}
