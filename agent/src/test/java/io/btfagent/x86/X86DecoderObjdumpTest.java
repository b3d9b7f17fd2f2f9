package io.btfagent.x86;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.btfagent.elf.ElfFile;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;

/**
 * The decoder against binutils' objdump on the host's libssl and libcrypto: every function that
 * decodes must split into exactly the instructions objdump lists. Runs where both exist (any
 * Debian with libssl3 and binutils), else is skipped.
 */
class X86DecoderObjdumpTest {
    private static final Pattern FUNC = Pattern.compile("^[0-9a-f]+ <([^@>]+)(@@[^>]*)?>:$");
    private static final Pattern INSN = Pattern.compile("^ +([0-9a-f]+):\\t");

    @Test
    void libsslAndLibcryptoSplitLikeObjdump() throws Exception {
        Path objdump = Path.of("/usr/bin/objdump");
        assumeTrue(Files.isExecutable(objdump), "no objdump");
        for (String lib : List.of("/usr/lib/x86_64-linux-gnu/libssl.so.3", "/usr/lib/x86_64-linux-gnu/libcrypto.so.3")) {
            Path p = Path.of(lib);
            assumeTrue(Files.isRegularFile(p), "no " + lib);
            TreeSet<Long> starts = new TreeSet<>();
            Set<String> names = new HashSet<>();
            Process proc = new ProcessBuilder(objdump.toString(), "-d", "--no-show-raw-insn", "-j", ".text", lib)
                    .redirectErrorStream(true).start();
            try (BufferedReader r = new BufferedReader(new InputStreamReader(proc.getInputStream(), StandardCharsets.UTF_8))) {
                for (String l; (l = r.readLine()) != null;) {
                    Matcher m = INSN.matcher(l);
                    if (m.find()) {
                        starts.add(Long.parseLong(m.group(1), 16));
                    } else if ((m = FUNC.matcher(l)).find()) {
                        names.add(m.group(1));
                    }
                }
            }
            assertEquals(0, proc.waitFor());
            ElfFile elf = ElfFile.open(p);
            int compared = 0;
            List<String> wrong = new ArrayList<>();
            for (String name : names) {
                Optional<ElfFile.FunctionCode> fc = elf.function(name);
                if (fc.isEmpty()) {
                    continue;
                }
                Optional<List<Instruction>> ins = X86Decoder.decodeAll(fc.get().code());
                if (ins.isEmpty()) {
                    continue; // data in code (e.g. RC4_options): placement keeps the entry
                }
                long a = fc.get().address();
                List<Long> mine = ins.get().stream().map(i -> a + i.offset()).toList();
                List<Long> theirs = new ArrayList<>(starts.subSet(a, a + fc.get().code().length));
                if (!mine.equals(theirs)) {
                    wrong.add(name);
                }
                compared++;
            }
            assertTrue(compared > 400, lib + ": only " + compared + " functions compared");
            assertEquals(List.of(), wrong, lib + ": functions split unlike objdump");
        }
    }
}
