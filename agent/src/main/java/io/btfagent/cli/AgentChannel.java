package io.btfagent.cli;

import com.sun.tools.attach.AgentInitializationException;
import com.sun.tools.attach.AgentLoadException;
import com.sun.tools.attach.AttachNotSupportedException;
import com.sun.tools.attach.VirtualMachine;
import io.btfagent.natives.NativeFiles;
import java.io.IOException;
import java.io.InputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.file.LinkOption;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.List;
import java.util.Optional;

/**
 * Talks to the agent inside a running JVM through the JDK's Attach API: each command loads the
 * agent jar again with {@code @<command> <reply file> <pid> [options]} as its argument (see
 * {@code io.btfagent.runtime.AgentControl}), and reads the answer from a file in a directory
 * made for this one command, owner-only and owned by the JVM's user, below the JVM's own
 * {@code /tmp} (through {@code /proc/<pid>/root} when it runs in another mount namespace).
 */
final class AgentChannel {
    private static final long ANSWER_WAIT_MS = 75_000;

    /** The answer of the agent: the exit status the command returns and the lines it prints. */
    record Reply(int status, List<String> lines) {
    }

    private AgentChannel() {
    }

    /**
     * Why the Attach API cannot reach {@code t}, as one line; empty when it can. Checked before
     * trying, so each case gets its own line rather than the Attach API's exception.
     */
    static Optional<String> attachProblem(TargetProcess t) throws IOException {
        String ours = NativeFiles.uid();
        String theirs = t.uid();
        if (!ours.equals("0") && !ours.equals(theirs)) {
            return Optional.of("pid " + t.pid + " runs as user " + TargetProcess.userName(theirs) + " (uid " + theirs
                    + "), this command as " + TargetProcess.userName(ours) + " (uid " + ours + "): run it as "
                    + (theirs.equals("0") ? "root" : TargetProcess.userName(theirs) + " (e.g. sudo -u "
                    + TargetProcess.userName(theirs) + " java -jar btf-agent.jar ...) or as root"));
        }
        if (!t.isHotSpot()) {
            return Optional.of("pid " + t.pid + " is not a HotSpot JVM (no libjvm.so in /proc/" + t.pid
                    + "/maps); btf-agent attaches to Java processes only");
        }
        if (t.attachDisabled()) {
            return Optional.of("pid " + t.pid + " was started with -XX:+DisableAttachMechanism, so no tool can attach "
                    + "to it; restart it with -javaagent:btf-agent.jar (or without that option)");
        }
        return Optional.empty();
    }

    /** Sends {@code command} to the agent in {@code t} and waits for its answer. */
    static Reply send(TargetProcess t, Path jar, String command, String options) {
        Path dir = null;
        try {
            String ours = NativeFiles.uid();
            String theirs = t.uid();
            dir = Files.createTempDirectory(t.seen("/tmp"), "btf-agent-control-",
                    PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
            if (!ours.equals(theirs)) {
                Files.setAttribute(dir, "unix:uid", Integer.parseInt(theirs));
                Files.setAttribute(dir, "unix:gid", Integer.parseInt(t.gid()));
            }
            String reply = "/tmp/" + dir.getFileName() + "/reply";
            String jarThere = !ours.equals(theirs) || t.otherMountNamespace() ? copyJar(t, jar)
                    : jar.toAbsolutePath().toString();
            VirtualMachine vm = VirtualMachine.attach(String.valueOf(t.pid));
            try {
                vm.loadAgent(jarThere, "@" + command + " " + reply + " " + t.pid
                        + (options.isEmpty() ? "" : " " + options));
            } finally {
                vm.detach();
            }
            return await(t, dir.resolve("reply"));
        } catch (AttachNotSupportedException | AgentLoadException | AgentInitializationException e) {
            return new Reply(1, List.of("cannot attach to pid " + t.pid + ": " + e.getMessage()));
        } catch (IOException e) {
            return new Reply(1, List.of("cannot talk to pid " + t.pid + ": " + e));
        } finally {
            if (dir != null) {
                deleteTree(dir);
            }
        }
    }

    /**
     * Sends {@code command} over the running agent's control socket (see
     * {@code io.btfagent.runtime.ControlSocket}); empty when there is none to use, e.g. no agent
     * runs there, and then the command loads the agent jar instead.
     */
    static Optional<Reply> viaSocket(TargetProcess t, String command) {
        try {
            Path dir = t.seen("/tmp/.btf-agent-" + t.namespacePid());
            if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS)
                    || !String.valueOf(Files.getAttribute(dir, "unix:uid", LinkOption.NOFOLLOW_LINKS)).equals(t.uid())
                    || ((Integer) Files.getAttribute(dir, "unix:mode", LinkOption.NOFOLLOW_LINKS) & 0077) != 0) {
                return Optional.empty();
            }
            try (SocketChannel c = SocketChannel.open(StandardProtocolFamily.UNIX)) {
                c.connect(UnixDomainSocketAddress.of(dir.resolve("control.sock")));
                c.write(ByteBuffer.wrap((command + " " + t.pid + "\n").getBytes(StandardCharsets.UTF_8)));
                String answer = new String(Channels.newInputStream(c).readAllBytes(), StandardCharsets.UTF_8);
                return Optional.of(parse(t, new ArrayList<>(answer.lines().toList())));
            }
        } catch (IOException | RuntimeException e) {
            return Optional.empty();
        }
    }

    private static Reply parse(TargetProcess t, List<String> lines) {
        if (lines.isEmpty() || !lines.get(0).matches("exit \\d+")) {
            return new Reply(1, List.of("malformed answer from the agent in pid " + t.pid));
        }
        int status = Integer.parseInt(lines.remove(0).substring(5).trim());
        return new Reply(status, lines);
    }

    private static Reply await(TargetProcess t, Path reply) throws IOException {
        long end = System.currentTimeMillis() + ANSWER_WAIT_MS;
        while (!Files.exists(reply)) {
            if (System.currentTimeMillis() > end) {
                return new Reply(1, List.of("no answer from the agent in pid " + t.pid + " in " + ANSWER_WAIT_MS / 1000
                        + " s; its stderr says why"));
            }
            if (TargetProcess.of(t.pid).isEmpty()) {
                return new Reply(1, List.of("pid " + t.pid + " exited before the agent answered"));
            }
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return new Reply(1, List.of("interrupted"));
            }
        }
        return parse(t, new ArrayList<>(Files.readAllLines(reply, StandardCharsets.UTF_8)));
    }

    /**
     * The JVM reads the jar itself: when it runs as another user or in another mount namespace,
     * a copy is put in its {@code /tmp}, named by content, readable by everyone (it holds no secret).
     */
    private static String copyJar(TargetProcess t, Path jar) throws IOException {
        String hash = sha256(jar);
        String name = "btf-agent-" + hash.substring(0, 16) + ".jar";
        Path there = t.seen("/tmp").resolve(name);
        // /tmp is everyone's: a file of that name is used only if it is ours and the same jar
        boolean reusable = Files.isRegularFile(there, java.nio.file.LinkOption.NOFOLLOW_LINKS)
                && String.valueOf(Files.getAttribute(there, "unix:uid", java.nio.file.LinkOption.NOFOLLOW_LINKS))
                        .equals(NativeFiles.uid())
                && sha256(there).equals(hash);
        if (!reusable) {
            Path tmp = Files.createTempFile(t.seen("/tmp"), "btf-agent-", ".part");
            try {
                Files.copy(jar, tmp, StandardCopyOption.REPLACE_EXISTING);
                Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-r--r--"));
                Files.move(tmp, there, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } finally {
                Files.deleteIfExists(tmp);
            }
        }
        return "/tmp/" + name;
    }

    private static String sha256(Path file) throws IOException {
        try (InputStream in = new DigestInputStream(Files.newInputStream(file), MessageDigest.getInstance("SHA-256"))) {
            in.transferTo(java.io.OutputStream.nullOutputStream());
            return HexFormat.of().formatHex(((DigestInputStream) in).getMessageDigest().digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private static void deleteTree(Path dir) {
        try (var s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        } catch (IOException ignored) {
            // a leftover empty directory in /tmp, owner-only
        }
    }
}
