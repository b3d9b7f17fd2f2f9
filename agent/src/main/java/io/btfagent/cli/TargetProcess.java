package io.btfagent.cli;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;

/**
 * What {@code /proc/<pid>} says about a process, read without touching it: its user, command
 * line, environment, mapped files, and whether it lives in another mount namespace (a
 * container), in which case its files are reached below {@code /proc/<pid>/root}.
 */
final class TargetProcess {
    final long pid;
    private final Path proc;

    private TargetProcess(long pid) {
        this.pid = pid;
        this.proc = Path.of("/proc", String.valueOf(pid));
    }

    /** The process, or empty when there is none with this pid. */
    static Optional<TargetProcess> of(long pid) {
        return pid > 0 && Files.isDirectory(Path.of("/proc", String.valueOf(pid)))
                ? Optional.of(new TargetProcess(pid)) : Optional.empty();
    }

    String status() throws IOException {
        return Files.readString(proc.resolve("status"));
    }

    /** Effective uid, from the {@code Uid:} line (real, effective, saved, fs). */
    String uid() throws IOException {
        return idField(status(), "Uid:");
    }

    /** Its pid in its own pid namespace (the last number of the {@code NSpid:} line). */
    long namespacePid() throws IOException {
        for (String line : status().split("\n")) {
            if (line.startsWith("NSpid:")) {
                String[] f = line.substring(6).trim().split("\\s+");
                return Long.parseLong(f[f.length - 1]);
            }
        }
        return pid;
    }

    String gid() throws IOException {
        return idField(status(), "Gid:");
    }

    static String idField(String status, String field) {
        for (String line : status.split("\n")) {
            if (line.startsWith(field)) {
                return line.substring(field.length()).trim().split("\\s+")[1];
            }
        }
        return "?";
    }

    /** The name of {@code uid} in this machine's /etc/passwd, or the number. */
    static String userName(String uid) {
        try {
            for (String line : Files.readAllLines(Path.of("/etc/passwd"))) {
                String[] f = line.split(":");
                if (f.length > 2 && f[2].equals(uid)) {
                    return f[0];
                }
            }
        } catch (IOException ignored) {
            // the number will do
        }
        return uid;
    }

    List<String> cmdline() throws IOException {
        return nulSeparated(Files.readAllBytes(proc.resolve("cmdline")));
    }

    /** Its environment; empty when it cannot be read (another user's process). */
    Map<String, String> environ() {
        Map<String, String> env = new LinkedHashMap<>();
        try {
            for (String kv : nulSeparated(Files.readAllBytes(proc.resolve("environ")))) {
                int eq = kv.indexOf('=');
                if (eq > 0) {
                    env.put(kv.substring(0, eq), kv.substring(eq + 1));
                }
            }
        } catch (IOException ignored) {
            // unreadable: nothing known
        }
        return env;
    }

    String maps() throws IOException {
        return Files.readString(proc.resolve("maps"));
    }

    /** A HotSpot JVM maps libjvm.so. */
    boolean isHotSpot() throws IOException {
        return maps().lines().anyMatch(l -> l.endsWith("/libjvm.so"));
    }

    /**
     * The JVM options it was started with: its command line up to the main class or
     * {@code -jar}, then {@code JDK_JAVA_OPTIONS} and {@code JAVA_TOOL_OPTIONS}, which the
     * launcher and the JVM read too (a later option wins, as in the JVM).
     */
    List<String> jvmOptions() throws IOException {
        List<String> out = new ArrayList<>();
        Map<String, String> env = environ();
        for (String var : List.of("JAVA_TOOL_OPTIONS", "JDK_JAVA_OPTIONS")) {
            if (env.containsKey(var)) {
                out.addAll(List.of(env.get(var).trim().split("\\s+")));
            }
        }
        List<String> cmd = cmdline();
        for (int i = 1; i < cmd.size(); i++) {
            String a = cmd.get(i);
            if (!a.startsWith("-") || a.equals("-jar")) {
                break;
            }
            out.add(a);
            if (List.of("-cp", "-classpath", "--class-path", "-p", "--module-path", "--add-opens", "--add-exports",
                    "--add-modules", "--add-reads").contains(a)) {
                i++;
            }
        }
        return out;
    }

    boolean attachDisabled() throws IOException {
        boolean disabled = false;
        for (String o : jvmOptions()) {
            if (o.equals("-XX:+DisableAttachMechanism")) {
                disabled = true;
            } else if (o.equals("-XX:-DisableAttachMechanism")) {
                disabled = false;
            }
        }
        return disabled;
    }

    /** Its {@code -D} options, as the agent there would see them as system properties. */
    Properties systemProperties() throws IOException {
        Properties p = new Properties();
        for (String o : jvmOptions()) {
            if (o.startsWith("-D")) {
                int eq = o.indexOf('=');
                p.setProperty(eq < 0 ? o.substring(2) : o.substring(2, eq), eq < 0 ? "" : o.substring(eq + 1));
            }
        }
        return p;
    }

    /** Its class path entries: {@code -cp}/{@code -classpath}/{@code --class-path}, or the {@code -jar} file. */
    List<String> classPath() throws IOException {
        List<String> cmd = cmdline();
        List<String> out = new ArrayList<>();
        for (int i = 1; i < cmd.size() - 1; i++) {
            String a = cmd.get(i);
            if (List.of("-cp", "-classpath", "--class-path").contains(a)) {
                out.addAll(List.of(cmd.get(i + 1).split(":")));
                i++;
            } else if (a.equals("-jar")) {
                out.add(cmd.get(i + 1));
                break;
            } else if (!a.startsWith("-")) {
                break;
            }
        }
        return out;
    }

    /** The jar files it has open now (class path jars and any opened later). */
    List<String> openJars() {
        List<String> out = new ArrayList<>();
        try (var fds = Files.list(proc.resolve("fd"))) {
            for (Path fd : (Iterable<Path>) fds::iterator) {
                try {
                    String target = Files.readSymbolicLink(fd).toString();
                    if (target.endsWith(".jar") && !out.contains(target)) {
                        out.add(target);
                    }
                } catch (IOException ignored) {
                    // closed meanwhile
                }
            }
        } catch (IOException ignored) {
            // another user's process: not readable
        }
        return out;
    }

    /** True when it runs in another mount namespace than this process (a container). */
    boolean otherMountNamespace() {
        try {
            return !Files.readSymbolicLink(proc.resolve("ns/mnt"))
                    .equals(Files.readSymbolicLink(Path.of("/proc/self/ns/mnt")));
        } catch (IOException e) {
            return false;
        }
    }

    /** Where a path of its file system is found from here. */
    Path seen(String path) {
        return otherMountNamespace() ? Path.of(proc + "/root" + (path.startsWith("/") ? "" : "/") + path) : Path.of(path);
    }

    Path procFile(String name) {
        return proc.resolve(name);
    }

    private static List<String> nulSeparated(byte[] bytes) {
        List<String> out = new ArrayList<>();
        int start = 0;
        for (int i = 0; i < bytes.length; i++) {
            if (bytes[i] == 0) {
                out.add(new String(bytes, start, i - start, StandardCharsets.UTF_8));
                start = i + 1;
            }
        }
        if (start < bytes.length) {
            out.add(new String(bytes, start, bytes.length - start, StandardCharsets.UTF_8));
        }
        return out;
    }
}
