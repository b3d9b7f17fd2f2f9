package io.btfagent.runtime;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class AgentControlTest {
    @TempDir
    Path tmp;

    private Path dir(String mode) throws Exception {
        Path d = Files.createDirectory(tmp.resolve("control-" + mode));
        Files.setPosixFilePermissions(d, PosixFilePermissions.fromString(mode));
        return d;
    }

    @Test
    void anOwnerOnlyDirectoryOfOursIsAccepted() throws Exception {
        assertNull(AgentControl.replyDirProblem(dir("rwx------").resolve("reply")));
    }

    @Test
    void aDirectoryOthersCanReadOrWriteIsRefused() throws Exception {
        String p = AgentControl.replyDirProblem(dir("rwxr-xr-x").resolve("reply"));
        assertTrue(p != null && p.contains("not owner-only") && p.contains("mode 755"), p);
        assertTrue(AgentControl.replyDirProblem(dir("rwx-w----").resolve("reply")) != null);
    }

    @Test
    void aMissingDirectoryOrASymlinkIsRefused() throws Exception {
        assertTrue(AgentControl.replyDirProblem(tmp.resolve("absent/reply")).contains("missing"));
        Path link = Files.createSymbolicLink(tmp.resolve("link"), dir("rwx------"));
        assertTrue(AgentControl.replyDirProblem(link.resolve("reply")).contains("missing"));
    }

    @Test
    void theReplyIsOwnerOnlyWithItsStatusFirstAndIsNeverOverwritten() throws Exception {
        Path reply = dir("rwx------").resolve("reply");
        AgentControl.write(reply, 3, List.of("one", "two"));
        assertEquals(List.of("exit 3", "one", "two"), Files.readAllLines(reply));
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(reply)));
        assertEquals(List.of(reply), Files.list(reply.getParent()).toList(), "no partial file left");
        Files.writeString(reply.resolveSibling("reply.part"), "planted");
        assertThrows(FileAlreadyExistsException.class, () -> AgentControl.write(reply, 0, List.of("x")));
    }

    @Test
    void theControlSocketAnswersEachRequestLineInAnOwnerOnlyDirectoryAndLeavesNothing() throws Exception {
        List<String> problems = new java.util.ArrayList<>();
        ControlSocket socket = ControlSocket.open(request -> "exit 0\nasked " + request + "\n", (r, c) -> false, problems::add)
                .orElseThrow(() -> new AssertionError(problems.toString()));
        Path dir = socket.path().getParent();
        try {
            assertEquals(ControlSocket.dirOf(ProcessHandle.current().pid()), dir);
            assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(dir)));
            for (String request : List.of("status 42", "detach 42")) {
                try (var c = java.nio.channels.SocketChannel.open(java.net.StandardProtocolFamily.UNIX)) {
                    c.connect(java.net.UnixDomainSocketAddress.of(socket.path()));
                    c.write(java.nio.ByteBuffer.wrap((request + "\n").getBytes(java.nio.charset.StandardCharsets.UTF_8)));
                    assertEquals("exit 0\nasked " + request + "\n", new String(
                            java.nio.channels.Channels.newInputStream(c).readAllBytes(),
                            java.nio.charset.StandardCharsets.UTF_8));
                }
            }
        } finally {
            socket.close();
        }
        assertTrue(Files.notExists(dir), "socket and directory removed");
    }

    @Test
    void aControlDirectoryOthersCanEnterIsNotUsed() throws Exception {
        Path dir = ControlSocket.dirOf(ProcessHandle.current().pid());
        Files.createDirectory(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwxr-xr-x")));
        try {
            List<String> problems = new java.util.ArrayList<>();
            assertTrue(ControlSocket.open(r -> "", (r, c) -> false, problems::add).isEmpty());
            assertEquals(List.of(dir + " exists and is not an owner-only directory of this user"), problems);
        } finally {
            Files.deleteIfExists(dir);
        }
    }
}
