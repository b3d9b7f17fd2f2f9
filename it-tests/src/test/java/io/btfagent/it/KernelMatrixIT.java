package io.btfagent.it;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.btfagent.demo.KernelMatrixGuest;
import io.btfagent.demo.TlsEchoServer;
import io.btfagent.demo.WildflyHttpsClient;
import io.btfagent.it.CapturedEvents.Event;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;

/**
 * The kernel matrix (it-tests/bin/kernel-matrix.sh): Debian's kernels booted under qemu, the
 * agent capturing OpenSSL and GnuTLS, both loaded after it started, in each. Checked here per
 * kernel: the events hold exactly the bytes each side sent, every one with the server's address
 * as remote, GnuTLS's with the socket's own fd and local address, each connection one conn. A
 * machine where qemu cannot run fails this test (the script exits 2), never skips it.
 *
 * <p>Runs only with {@code -Dit.kernel-matrix=true} (or the suites to boot, comma-separated):
 * it takes minutes (software emulation), and CI runs it as its own step.
 */
@Privileged
class KernelMatrixIT {
    private static final String HOST = "127.0.0.1";

    @Test
    void everyKernelCapturesWithIdentity() throws Exception {
        String which = System.getProperty("it.kernel-matrix", "");
        org.junit.jupiter.api.Assumptions.assumeFalse(which.isEmpty() || which.equals("false"),
                "the kernel matrix runs with -Dit.kernel-matrix=true (or a list of suites)");
        List<String> suites = which.equals("true") ? List.of("bullseye", "bookworm", "trixie", "sid", "experimental")
                : List.of(which.split(","));
        Path out = Path.of("target", "kernel-matrix").toAbsolutePath();
        List<String> cmd = new ArrayList<>(List.of("bash", SuiteRoot.BIN.resolve("kernel-matrix.sh").toString()));
        cmd.addAll(suites);
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
        pb.environment().put("BTF_MATRIX_OUT", out.toString());
        Path log = Files.createTempFile("kernel-matrix", ".log");
        pb.redirectOutput(log.toFile());
        Process p = pb.start();
        try {
            if (!p.waitFor(40, TimeUnit.MINUTES)) {
                fail("kernel-matrix.sh did not finish in 40 minutes:\n" + Files.readString(log));
            }
        } finally {
            p.destroyForcibly();
        }
        String printed = Files.readString(log);
        System.out.println(printed);
        assertFalse(p.exitValue() == 2, "qemu cannot run on this machine: the kernel matrix cannot prove anything:\n"
                + printed);
        for (String suite : suites) {
            if (!suite.equals("experimental") || Files.exists(out.resolve(suite).resolve("result"))) {
                check(out.resolve(suite)); // experimental is left out while it has no kernel
            }
        }
        assertEquals(0, p.exitValue(), printed);
    }

    private static String lastLines(Path file, int n) {
        try {
            List<String> lines = Files.readAllLines(file, java.nio.charset.StandardCharsets.ISO_8859_1);
            return String.join("\n", lines.subList(Math.max(0, lines.size() - n), lines.size()));
        } catch (java.io.IOException e) {
            return "(" + file + " unreadable: " + e + ")";
        }
    }

    private static void check(Path dir) throws Exception {
        Map<String, String> result = new LinkedHashMap<>();
        for (String line : Files.readAllLines(dir.resolve("result"))) {
            int eq = line.indexOf('=');
            result.put(line.substring(0, eq), line.substring(eq + 1));
        }
        String kernel = result.get("release");
        assertTrue(result.get("result").startsWith("ok"), () -> kernel + ": " + result + "\nthe guest's console, last lines:\n"
                + lastLines(dir.resolve("console.txt"), 40));
        int port = Integer.parseInt(result.get("port"));
        List<Event> events = CapturedEvents.read(dir.resolve("events.jsonl"));
        List<Event> openssl = events.stream().filter(e -> "openssl".equals(e.str("lib"))).toList();
        List<Event> gnutls = events.stream().filter(e -> "gnutls".equals(e.str("lib"))).toList();
        assertEquals(events.size(), openssl.size() + gnutls.size(), kernel + ": only OpenSSL and GnuTLS events");

        ByteArrayOutputStream requests = new ByteArrayOutputStream();
        ByteArrayOutputStream responses = new ByteArrayOutputStream();
        for (String path : KernelMatrixGuest.OPENSSL_PATHS) {
            requests.writeBytes(WildflyHttpsClient.request(HOST, port, path));
            responses.writeBytes(TlsEchoServer.responseFor(path));
        }
        assertArrayEquals(requests.toByteArray(), CapturedEvents.stream(openssl, true), kernel + ": OpenSSL writes");
        assertArrayEquals(responses.toByteArray(), CapturedEvents.stream(openssl, false), kernel + ": OpenSSL reads");
        assertArrayEquals(WildflyHttpsClient.request(HOST, port, KernelMatrixGuest.GNUTLS_PATH),
                CapturedEvents.stream(gnutls, true), kernel + ": GnuTLS writes");
        assertArrayEquals(TlsEchoServer.responseFor(KernelMatrixGuest.GNUTLS_PATH), CapturedEvents.stream(gnutls, false),
                kernel + ": GnuTLS reads");

        Map<String, String> guest = ChildJvm.printedValues(Files.readString(dir.resolve("console.txt")));
        for (Event e : events) {
            assertEquals(HOST + ":" + port, e.str("remote"), kernel + ": " + e.fields());
            assertTrue(e.num("conn") > 0, kernel + ": " + e.fields());
        }
        for (Event e : gnutls) {
            assertEquals(Long.parseLong(guest.get("fd")), e.num("fd"), kernel + ": the GnuTLS socket's fd");
            assertEquals(guest.get("local"), e.str("local"), kernel);
        }
        assertEquals(1, gnutls.stream().map(e -> e.num("conn")).distinct().count(), kernel + ": one GnuTLS conn");
        assertTrue(openssl.stream().allMatch(e -> "client".equals(e.str("role"))), kernel + ": OpenSSL client role");
        System.out.println(kernel + ": " + events.size() + " events checked (" + new File(dir.toString()) + ")");
    }
}
