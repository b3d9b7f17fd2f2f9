package io.btfagent.it;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HexFormat;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** Copies of the system's OpenSSL that the catalog does not know, for selection tests. */
final class Libraries {
    static final Path LIBSSL = Path.of(ChildJvm.LIBSSL_DIR, "libssl.so.3");
    static final Path LIBCRYPTO = Path.of(ChildJvm.LIBSSL_DIR, "libcrypto.so.3");

    private Libraries() {
    }

    /** The GNU build-id as readelf prints it: an oracle independent of the agent. */
    static String buildId(Path elf) throws IOException, InterruptedException {
        Process p = new ProcessBuilder("readelf", "-n", elf.toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        p.waitFor();
        Matcher m = Pattern.compile("Build ID: ([0-9a-f]+)").matcher(out);
        assertTrue(m.find(), out);
        return m.group(1);
    }

    /**
     * Copies libssl and libcrypto into {@code dir}, changing one byte of libssl's build-id: a
     * real, working build the catalog does not know. With {@code version} set, libcrypto's
     * version string says that version instead (same length), e.g. one no catalog entry shares.
     */
    static Path unknownBuild(Path dir, String version) throws IOException, InterruptedException {
        Files.createDirectories(dir);
        byte[] ssl = Files.readAllBytes(LIBSSL);
        byte[] id = HexFormat.of().parseHex(buildId(LIBSSL));
        int at = indexOf(ssl, id, 0);
        assertTrue(at > 0 && indexOf(ssl, id, at + 1) < 0, "the build-id occurs once");
        ssl[at + id.length - 1] ^= 0x5a;
        Files.write(dir.resolve("libssl.so.3"), ssl);
        byte[] crypto = Files.readAllBytes(LIBCRYPTO);
        if (version != null) {
            String current = WildflyCaptureIT.systemOpensslVersion();
            assertTrue(current.length() == version.length(), "same length: " + current + " / " + version);
            byte[] from = ("OpenSSL " + current + " ").getBytes(StandardCharsets.ISO_8859_1);
            byte[] to = ("OpenSSL " + version + " ").getBytes(StandardCharsets.ISO_8859_1);
            for (int i = indexOf(crypto, from, 0); i >= 0; i = indexOf(crypto, from, i + 1)) {
                System.arraycopy(to, 0, crypto, i, to.length);
            }
        }
        Files.write(dir.resolve("libcrypto.so.3"), crypto);
        return dir.resolve("libssl.so.3");
    }

    static int indexOf(byte[] hay, byte[] needle, int from) {
        outer:
        for (int i = from; i + needle.length <= hay.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (hay[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }
}
