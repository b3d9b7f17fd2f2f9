package io.btfagent.bpf.internal;

/**
 * glibc's {@code malloc_trim}, bound apart from {@link LibC}: a C library without it (musl)
 * leaves every other binding working.
 */
public final class GlibcMalloc {
    private static volatile Boolean available;

    private GlibcMalloc() {
    }

    /** Binds to the C library; false when it has no {@code malloc_trim}. */
    public static synchronized boolean bind() {
        if (available == null) {
            available = LibC.bindIfPresent(GlibcMalloc.class);
        }
        return available;
    }

    /** int malloc_trim(size_t pad) */
    public static native int malloc_trim(long pad);
}
