package io.btfagent.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class HookProgressTest {
    @Test
    void saysWhatIsBeingHookedUntilDoneAndKeepsTheFirstHookTime() {
        HookProgress p = new HookProgress();
        assertEquals(-1, p.firstHookedMs());
        assertNull(p.hooking());
        p.hooking("/usr/lib/x86_64-linux-gnu/libssl.so.3");
        assertTrue(p.hooking().matches("/usr/lib/x86_64-linux-gnu/libssl\\.so\\.3 \\(since -?\\d+ ms after JVM start\\)"),
                p.hooking());
        p.hooked();
        long first = p.firstHookedMs();
        assertTrue(first >= 0, "this JVM knows its start");
        p.done();
        assertNull(p.hooking());
        p.hooking("/usr/lib/x86_64-linux-gnu/libgnutls.so.30");
        p.hooked();
        assertEquals(first, p.firstHookedMs(), "the first hook's time stays");
    }
}
