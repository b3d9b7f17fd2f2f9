package io.btfagent.demo;

import com.sun.jna.Function;
import com.sun.jna.Memory;
import com.sun.jna.NativeLibrary;
import java.io.BufferedReader;
import java.io.InputStreamReader;

/**
 * The caller side of CoreDemoIT: loads one build of the CO-RE demo library and calls
 * {@code int add_test(struct data *d)} once, with a {@code struct data} made of the given ints
 * in order (v1: a c d; v2: a b c d), so the caller needs no knowledge of either layout.
 *
 * <p>Usage: {@code CoreDemoCaller <libcoredemo.so> <int>...}. Prints {@code loaded} on stderr
 * once the library is mapped, then waits for one line on stdin (the test attaches its probe to
 * this pid in between), calls, and prints {@code add_test returned <n>} on stdout. Runs on its
 * own JNA (the test's class path gives it one the agent does not use).
 */
public final class CoreDemoCaller {
    private CoreDemoCaller() {
    }

    public static void main(String[] args) throws Exception {
        NativeLibrary lib = NativeLibrary.getInstance(args[0]);
        Function addTest = lib.getFunction("add_test");
        Memory data = new Memory(4L * (args.length - 1));
        for (int i = 1; i < args.length; i++) {
            data.setInt(4L * (i - 1), Integer.parseInt(args[i]));
        }
        System.err.println("loaded");
        System.err.flush();
        new BufferedReader(new InputStreamReader(System.in)).readLine();
        int ret = addTest.invokeInt(new Object[] {data});
        System.out.println("add_test returned " + ret);
        System.out.flush();
    }
}
