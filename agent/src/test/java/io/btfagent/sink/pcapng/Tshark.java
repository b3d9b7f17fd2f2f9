package io.btfagent.sink.pcapng;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.concurrent.TimeUnit;

/** Runs Debian's tshark (installed by native-targets/bin/setup-host.sh) on a capture file. */
public final class Tshark {
    public static final Path BINARY = Path.of("/usr/bin/tshark");

    private Tshark() {
    }

    public static String run(String... args) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>();
        cmd.add(BINARY.toString());
        cmd.addAll(List.of(args));
        Path out = Files.createTempFile("tshark", ".out");
        try {
            Process p = new ProcessBuilder(cmd).redirectErrorStream(false).redirectOutput(out.toFile())
                    .redirectError(ProcessBuilder.Redirect.DISCARD).start();
            assertTrue(p.waitFor(120, TimeUnit.SECONDS), "tshark did not finish");
            String text = Files.readString(out, StandardCharsets.UTF_8);
            assertEquals(0, p.exitValue(), String.join(" ", cmd) + ":\n" + text);
            return text;
        } finally {
            Files.deleteIfExists(out);
        }
    }

    /** What {@code -z follow,tcp,raw,N} shows: the two nodes and each one's bytes. */
    public record Follow(String node0, String node1, byte[] fromNode0, byte[] fromNode1) {
    }

    public static Follow follow(Path file, int stream) throws IOException, InterruptedException {
        String text = run("-r", file.toString(), "-q", "-z", "follow,tcp,raw," + stream);
        String node0 = null;
        String node1 = null;
        ByteArrayOutputStream a = new ByteArrayOutputStream();
        ByteArrayOutputStream b = new ByteArrayOutputStream();
        boolean data = false;
        for (String line : text.split("\n")) {
            if (line.startsWith("Node 0: ")) {
                node0 = line.substring(8);
            } else if (line.startsWith("Node 1: ")) {
                node1 = line.substring(8);
                data = true;
            } else if (line.startsWith("=====")) {
                data = false;
            } else if (data && !line.isEmpty()) {
                boolean second = line.startsWith("\t");
                (second ? b : a).writeBytes(HexFormat.of().parseHex(line.strip()));
            }
        }
        return new Follow(node0, node1, a.toByteArray(), b.toByteArray());
    }
}
