package io.btfagent.hook;

/** A library is not hooked; the message is the one line that says which and why. */
public final class HookRefused extends Exception {
    public HookRefused(String line) {
        super(line, null, false, false);
    }
}
