package io.btfagent.runtime;

import io.btfagent.natives.NativeFiles;
import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Optional;
import java.util.function.Function;

/**
 * Where {@code status} and {@code detach} reach a running agent without loading the agent jar
 * again (each dynamic load costs the JVM a JPLIS instance and, from Java 21, a warning on its
 * stderr): a Unix socket {@value #NAME} in {@code /tmp/.btf-agent-<pid>/}, a directory made
 * owner-only (mode 700) before the socket is bound in it, so only this JVM's user and root can
 * connect. One request line per connection, answered like a reply file.
 */
final class ControlSocket implements AutoCloseable {
    static final String NAME = "control.sock";

    private final Path dir;
    private final ServerSocketChannel server;
    private final Thread thread;

    /**
     * A request that keeps its connection ({@code watch}): given the request line and the
     * connection, it returns true when it took the connection over (and closes it itself).
     */
    interface Streams {
        boolean take(String request, SocketChannel connection);
    }

    private ControlSocket(Path dir, ServerSocketChannel server, Function<String, String> handler, Streams streams) {
        this.dir = dir;
        this.server = server;
        this.thread = new Thread(() -> serve(handler, streams), "btf-agent-control");
        this.thread.setDaemon(true);
        this.thread.start();
    }

    /** The directory of the socket of JVM {@code pid} (as that JVM numbers itself). */
    static Path dirOf(long pid) {
        return Path.of("/tmp", ".btf-agent-" + pid);
    }

    /**
     * Opens the socket, or says why not (then the commands load the agent jar instead). A
     * directory left by an earlier JVM of the same pid and user is reused; one of another user
     * or with wider permissions is not.
     */
    static Optional<ControlSocket> open(Function<String, String> handler, Streams streams,
            java.util.function.Consumer<String> problems) {
        Path dir = dirOf(ProcessHandle.current().pid());
        try {
            try {
                Files.createDirectory(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
            } catch (FileAlreadyExistsException e) {
                String owner = String.valueOf(Files.getAttribute(dir, "unix:uid", LinkOption.NOFOLLOW_LINKS));
                int mode = (Integer) Files.getAttribute(dir, "unix:mode", LinkOption.NOFOLLOW_LINKS);
                if (!Files.isDirectory(dir, LinkOption.NOFOLLOW_LINKS) || !owner.equals(NativeFiles.uid())
                        || (mode & 0077) != 0) {
                    problems.accept(dir + " exists and is not an owner-only directory of this user");
                    return Optional.empty();
                }
            }
            Path socket = dir.resolve(NAME);
            Files.deleteIfExists(socket);
            ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
            server.bind(UnixDomainSocketAddress.of(socket));
            return Optional.of(new ControlSocket(dir, server, handler, streams));
        } catch (IOException | UnsupportedOperationException e) {
            problems.accept("cannot open " + dir.resolve(NAME) + ": " + e);
            return Optional.empty();
        }
    }

    Path path() {
        return dir.resolve(NAME);
    }

    private void serve(Function<String, String> handler, Streams streams) {
        while (server.isOpen()) {
            SocketChannel c = null;
            boolean taken = false;
            try {
                c = server.accept();
                ByteBuffer in = ByteBuffer.allocate(4096);
                while (in.hasRemaining() && c.read(in) > 0 && in.get(in.position() - 1) != '\n') {
                    // read up to the end of the request line
                }
                String request = new String(in.array(), 0, in.position(), StandardCharsets.UTF_8).strip();
                if (streams.take(request, c)) {
                    taken = true;
                    continue;
                }
                ByteBuffer out = ByteBuffer.wrap(handler.apply(request).getBytes(StandardCharsets.UTF_8));
                while (out.hasRemaining()) {
                    c.write(out);
                }
            } catch (IOException e) {
                if (!server.isOpen()) {
                    return;
                }
            } finally {
                if (c != null && !taken) {
                    try {
                        c.close();
                    } catch (IOException ignored) {
                        // closing
                    }
                }
            }
        }
    }

    /** Closes the socket and removes it and its directory; called by the handler's own thread too. */
    @Override
    public void close() {
        try {
            server.close();
        } catch (IOException ignored) {
            // closing
        }
        try {
            Files.deleteIfExists(dir.resolve(NAME));
            Files.deleteIfExists(dir);
        } catch (IOException ignored) {
            // a leftover owner-only directory, reused by a later agent of this pid
        }
    }
}
