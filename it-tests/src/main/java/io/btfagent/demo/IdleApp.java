package io.btfagent.demo;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * An application that does nothing but wait for one line on stdin, print the libbpf files its
 * process has mapped, and return from {@code main}. Tests use it to see which libbpf the agent
 * loaded and how long the JVM takes to exit once {@code main} returns.
 */
public final class IdleApp {
    private IdleApp() {
    }

    public static void main(String[] args) throws IOException {
        new BufferedReader(new InputStreamReader(System.in)).readLine();
        Files.readAllLines(Path.of("/proc/self/maps")).stream()
                .filter(l -> l.contains("libbpf"))
                .map(l -> "mapped " + l.substring(l.indexOf('/')))
                .distinct()
                .forEach(System.out::println);
        System.out.println("main returns");
        System.out.flush();
    }
}
