package io.btfagent.x86;

/**
 * One decoded x86-64 instruction, with what probe placement needs to know about it.
 *
 * @param offset where it starts, relative to the decoded code
 * @param length its length in bytes
 * @param flow how it transfers control
 * @param target for a direct jump, conditional jump or call: the target offset (relative to
 *     the decoded code, may lie outside it); else -1
 * @param writes general registers it writes, one bit per register number (rax 0, rcx 1, rdx 2,
 *     rbx 3, rsp 4, rbp 5, rsi 6, rdi 7, r8..r15 8..15); partial writes count as writes;
 *     meaningless when {@code known} is false
 * @param writesMemory whether it may store to memory (pushes included)
 * @param known whether its register and memory effects are known; an instruction whose
 *     length is known but whose effects are not ends every proof that has to pass over it
 * @param emulated whether the kernel (arch/x86/kernel/uprobes.c) emulates it when a uprobe
 *     sits on it, instead of single-stepping a copy of it
 */
public record Instruction(long offset, int length, Flow flow, long target, int writes, boolean writesMemory,
        boolean known, boolean emulated) {

    /** How an instruction transfers control. */
    public enum Flow {
        /** falls through to the next instruction */
        NEXT,
        /** direct unconditional jump: {@code target} */
        JUMP,
        /** direct conditional jump: {@code target} or the next instruction */
        BRANCH,
        /** direct call: {@code target}, then (usually) the next instruction */
        CALL,
        /** indirect jump (through a register or memory): the target is unknown */
        INDIRECT_JUMP,
        /** indirect call */
        INDIRECT_CALL,
        /** near return */
        RETURN,
        /** ends the path: ud2, int3, hlt, or anything else that does not fall through */
        STOP
    }

    public static final int RAX = 0;
    public static final int RCX = 1;
    public static final int RDX = 2;
    public static final int RSP = 4;
    public static final int RSI = 6;
    public static final int RDI = 7;

    public long end() {
        return offset + length;
    }

    public boolean writes(int register) {
        return (writes & (1 << register)) != 0;
    }
}
