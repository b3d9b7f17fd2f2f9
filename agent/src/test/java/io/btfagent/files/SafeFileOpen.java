package io.btfagent.files;

import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/** Opens a file with {@link SafeFile} in a process of its own (for a umask of its own) and writes one line. */
public final class SafeFileOpen {
    private SafeFileOpen() {
    }

    public static void main(String[] args) throws Exception {
        try (FileChannel ch = SafeFile.openAppend(Path.of(args[0]), System.out::println)) {
            ch.write(ByteBuffer.wrap("x\n".getBytes(StandardCharsets.US_ASCII)));
        }
    }
}
