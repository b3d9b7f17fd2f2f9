package io.btfagent.x86;

import io.btfagent.x86.Instruction.Flow;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * Where a function's entry and return probes go, decided from its machine code.
 *
 * <p>A uprobe on an instruction the kernel emulates (push, call, jmp, jcc, nop) costs a trap;
 * one on any other instruction also costs a single-step of a copy of it, several times more.
 * Compilers usually start a function with {@code sub $n,%rsp} or {@code endbr64}, which are
 * single-stepped. So:
 *
 * <ul>
 *   <li><b>Entry</b>: the first emulated instruction of the straight-line code that starts the
 *       function, if nothing before it can jump back into that code, nothing before it writes an
 *       argument register the entry program reads, and every instruction before it is understood.
 *       Every call passes it exactly once, with the arguments as they were at the call.
 *   <li><b>Return</b>: a uretprobe takes over the return address at {@code (%rsp)}, so it must
 *       sit where the stack pointer is still what it was at the call: on the entry placement
 *       when nothing before it moved the stack (e.g. a tail-calling wrapper), else on the
 *       function's first instruction. Otherwise the return side uses plain uprobes on one
 *       emulated instruction before each {@code ret} (typically the stack-protector's {@code
 *       jne}): the straight-line code from it to the {@code ret} must be entered only there,
 *       write neither {@code rax} nor memory, and if it is a conditional jump, its other side
 *       must end the process ({@code call __stack_chk_fail}: a call that is the function's last
 *       instruction, so the compiler knew it does not return). The function must have no other
 *       way out: no tail jump, no indirect jump, no jump outside its symbol (e.g. into a
 *       {@code .cold} part).
 * </ul>
 *
 * If the return side cannot be placed on returns, the entry stays on the first instruction too,
 * where the uretprobe's breakpoint already is: one trap instead of two. Offsets here are relative
 * to the function's start.
 *
 * @param function the function's name
 * @param entry where the entry probe goes
 * @param returnProbe where the uretprobe goes, or -1 when the return side uses {@code exits}
 * @param exits where uprobes that see the return value go (empty when {@code returnProbe} is used)
 * @param reason why, in a few words, for the log
 */
public record ProbePlacement(String function, long entry, long returnProbe, List<Long> exits, String reason) {

    /** Entry and uretprobe on the first instruction: what any uprobe tool does. */
    public static ProbePlacement atEntry(String function, String reason) {
        return new ProbePlacement(function, 0, 0, List.of(), reason);
    }

    /** Whether anything moved off the first instruction. */
    public boolean moved() {
        return entry != 0 || returnProbe != 0;
    }

    /**
     * The placement for {@code code}, the bytes of one function from its symbol's start to its
     * end, whose entry program reads the argument registers in {@code argumentRegisters} (a mask
     * of {@link Instruction} register numbers).
     */
    public static ProbePlacement plan(String function, byte[] code, int argumentRegisters) {
        Optional<List<Instruction>> decoded = X86Decoder.decodeAll(code);
        if (decoded.isEmpty()) {
            return atEntry(function, "code not fully decodable");
        }
        List<Instruction> ins = decoded.get();
        long end = code.length;
        Set<Long> targets = new HashSet<>();
        boolean indirect = false;
        boolean leaves = false;
        for (Instruction i : ins) {
            switch (i.flow()) {
                case JUMP, BRANCH -> {
                    if (i.target() >= 0 && i.target() < end) {
                        targets.add(i.target());
                    } else {
                        leaves = true;
                    }
                }
                case CALL -> {
                    if (i.target() >= 0 && i.target() < end) {
                        targets.add(i.target()); // a call into itself: treat like a jump
                    }
                }
                case INDIRECT_JUMP -> indirect = true;
                default -> {
                }
            }
        }
        if (indirect) {
            return atEntry(function, "indirect jump");
        }
        // entry: walk the straight-line start
        int e = -1;
        boolean stackMoved = false;
        boolean memoryWritten = false;
        for (int k = 0; k < ins.size(); k++) {
            Instruction i = ins.get(k);
            if (k > 0 && targets.contains(i.offset())) {
                break;
            }
            if (i.emulated()) {
                e = k;
                break;
            }
            if (i.flow() != Flow.NEXT || !i.known() || (i.writes() & argumentRegisters) != 0) {
                break;
            }
            stackMoved |= i.writes(Instruction.RSP);
            memoryWritten |= i.writesMemory();
        }
        if (e < 0) {
            return atEntry(function, "no emulated instruction before the arguments may change");
        }
        long entry = ins.get(e).offset();
        if (!stackMoved && !memoryWritten) { // (%rsp) still holds the return address
            return new ProbePlacement(function, entry, entry, List.of(),
                    entry == 0 ? "first instruction emulated" : "entry +" + entry + ", stack not yet moved");
        }
        if (leaves) {
            return atEntry(function, "jumps outside the function");
        }
        List<Long> exits = new ArrayList<>();
        for (int k = 0; k < ins.size(); k++) {
            if (ins.get(k).flow() != Flow.RETURN) {
                continue;
            }
            long exit = exitBefore(ins, k, targets, end);
            if (exit < 0) {
                return atEntry(function, "return at +" + ins.get(k).offset() + " has no provable probe point");
            }
            exits.add(exit);
        }
        if (exits.isEmpty()) {
            return atEntry(function, "no return found");
        }
        return new ProbePlacement(function, entry, -1, List.copyOf(exits),
                "entry +" + entry + ", returns at " + exits.stream().map(x -> "+" + x).toList());
    }

    /** The emulated instruction before the return {@code ins.get(ret)} where rax already holds the result; -1 if none. */
    private static long exitBefore(List<Instruction> ins, int ret, Set<Long> targets, long end) {
        for (int k = ret - 1; k >= 0; k--) {
            if (targets.contains(ins.get(k + 1).offset())) {
                return -1; // the code after k is also entered by a jump that would skip the probe
            }
            Instruction i = ins.get(k);
            if (i.emulated() && !i.writes(Instruction.RAX)) {
                if (i.flow() == Flow.NEXT) {
                    return i.offset(); // nop, push
                }
                if (i.flow() == Flow.BRANCH && endsProcess(ins, i.target(), end)) {
                    return i.offset();
                }
                return -1;
            }
            if (i.flow() != Flow.NEXT || !i.known() || i.writesMemory() || i.writes(Instruction.RAX)) {
                return -1;
            }
        }
        return -1;
    }

    /**
     * Whether the code at {@code target} runs straight into a call that is the function's last
     * instruction (so its callee does not return, e.g. __stack_chk_fail) or into ud2/int3/hlt.
     */
    private static boolean endsProcess(List<Instruction> ins, long target, long end) {
        int k = 0;
        while (k < ins.size() && ins.get(k).offset() != target) {
            k++;
        }
        for (int n = 0; k < ins.size() && n < 16; k++, n++) {
            Instruction i = ins.get(k);
            switch (i.flow()) {
                case STOP -> {
                    return true;
                }
                case CALL, INDIRECT_CALL -> {
                    if (i.end() == end) {
                        return true;
                    }
                }
                case NEXT -> {
                }
                default -> {
                    return false;
                }
            }
        }
        return false;
    }
}
