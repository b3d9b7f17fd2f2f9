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
}
