package io.btfagent.tls;

import io.btfagent.elf.ElfFile;
import io.btfagent.x86.Instruction;
import io.btfagent.x86.ProbePlacement;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Where in a library file the probes of its hooked functions go: entry uprobes, uretprobes, and
 * uprobes that see a function's return value before its {@code ret} (see {@link ProbePlacement}).
 *
 * @param entries entry probes (one per function)
 * @param returnProbes uretprobes (one per function whose return side is not on its returns)
 * @param exits uprobes before returns (one or more per function placed that way)
 * @param placements per function, in {@code functions} order
 */
public record ProbeSites(List<Site> entries, List<Site> returnProbes, List<Site> exits,
        List<ProbePlacement> placements) {

    /** One probe: the function it belongs to and its offset in the file. */
    public record Site(String function, long fileOffset) {
    }

    /** How many functions had a probe moved off their first instruction. */
    public int moved() {
        return (int) placements.stream().filter(ProbePlacement::moved).count();
    }

    /**
     * The sites for {@code functions} of {@code file}. With {@code place} false, or for a
     * function whose code cannot be read, every probe is on the function's first instruction.
     */
    public static ProbeSites plan(Path file, List<String> functions, boolean place) throws IOException {
        java.util.Map<String, Optional<ElfFile.FunctionCode>> codes = new java.util.HashMap<>();
        try (ElfFile elf = ElfFile.open(file)) {
            for (String f : functions) {
                codes.put(f, elf.function(f));
            }
        }
        List<Site> entries = new ArrayList<>();
        List<Site> returns = new ArrayList<>();
        List<Site> exits = new ArrayList<>();
        List<ProbePlacement> placements = new ArrayList<>();
        for (String f : functions) {
            Optional<ElfFile.FunctionCode> code = codes.get(f);
            if (code.isEmpty()) {
                throw new IOException(file + " has no code for " + f);
            }
            long base = code.get().fileOffset();
            ProbePlacement p = place ? ProbePlacement.plan(f, code.get().code(), argumentRegisters(f))
                    : ProbePlacement.atEntry(f, "probe.placement=entry");
            placements.add(p);
            entries.add(new Site(f, base + p.entry()));
            if (p.returnProbe() >= 0) {
                returns.add(new Site(f, base + p.returnProbe()));
            }
            for (long x : p.exits()) {
                exits.add(new Site(f, base + x));
            }
        }
        return new ProbeSites(List.copyOf(entries), List.copyOf(returns), List.copyOf(exits), List.copyOf(placements));
    }

    /**
     * The registers the entry program (ssl_call_enter) reads, plus the third argument, the
     * length, so that a later reader of it stays correct: rdi (SSL*, session), rsi (buffer),
     * rdx (length), and rcx (size_t *) for the _ex functions.
     */
    static int argumentRegisters(String function) {
        int regs = (1 << Instruction.RDI) | (1 << Instruction.RSI) | (1 << Instruction.RDX);
        return function.endsWith("_ex") ? regs | (1 << Instruction.RCX) : regs;
    }

    /** For the log: each function's placement, e.g. {@code SSL_write entry +22, returns at [+56]}. */
    public String describe() {
        List<String> parts = new ArrayList<>();
        for (ProbePlacement p : placements) {
            parts.add(p.function() + " " + (p.moved() ? p.reason() : "at entry (" + p.reason() + ")"));
        }
        return String.join("; ", parts);
    }
}
