package io.btfagent.x86;

import io.btfagent.x86.Instruction.Flow;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * A conservative decoder of 64-bit x86 machine code, enough to place probes: the length of every
 * general-purpose, x87, SSE, VEX and EVEX encoded instruction, the targets of direct jumps and
 * calls, and the register and memory effects of the general-purpose instructions compilers put
 * in function prologues and epilogues. Whatever it cannot decode makes {@link #decode} fail, and
 * an instruction whose effects it does not model is marked as not {@link Instruction#known()
 * known}: a proof that needs either gives up, and the probe stays where it always is safe.
 */
public final class X86Decoder {
    private X86Decoder() {
    }

    // one-byte opcodes: bit 0 ModRM follows; bits 1.. immediate kind
    private static final int M = 1;
    private static final int I8 = 2;
    private static final int I16 = 4;
    private static final int IZ = 8; // 16 or 32 bits by operand size
    private static final int IV = 16; // 16, 32 or 64 bits (mov r, imm)
    private static final int MOFFS = 32;
    private static final int BAD = 64; // invalid in 64-bit mode, or a prefix handled elsewhere
    private static final int[] ONE = new int[256];

    static {
        for (int op = 0; op < 0x40; op += 8) {
            ONE[op] = M;
            ONE[op + 1] = M;
            ONE[op + 2] = M;
            ONE[op + 3] = M;
            ONE[op + 4] = I8;
            ONE[op + 5] = IZ;
            ONE[op + 6] = BAD;
            ONE[op + 7] = BAD;
        }
        ONE[0x0f] = BAD; // two-byte escape, handled before the table
        ONE[0x26] = BAD;
        ONE[0x2e] = BAD;
        ONE[0x36] = BAD;
        ONE[0x3e] = BAD;
        for (int op = 0x40; op < 0x50; op++) {
            ONE[op] = BAD; // REX, handled before the table
        }
        ONE[0x60] = BAD;
        ONE[0x61] = BAD;
        ONE[0x62] = BAD; // EVEX, handled before the table
        ONE[0x63] = M;
        for (int op = 0x64; op <= 0x67; op++) {
            ONE[op] = BAD;
        }
        ONE[0x68] = IZ;
        ONE[0x69] = M | IZ;
        ONE[0x6a] = I8;
        ONE[0x6b] = M | I8;
        for (int op = 0x70; op < 0x80; op++) {
            ONE[op] = I8;
        }
        ONE[0x80] = M | I8;
        ONE[0x81] = M | IZ;
        ONE[0x82] = BAD;
        ONE[0x83] = M | I8;
        for (int op = 0x84; op < 0x90; op++) {
            ONE[op] = M;
        }
        ONE[0x9a] = BAD;
        for (int op = 0xa0; op < 0xa4; op++) {
            ONE[op] = MOFFS;
        }
        ONE[0xa8] = I8;
        ONE[0xa9] = IZ;
        for (int op = 0xb0; op < 0xb8; op++) {
            ONE[op] = I8;
        }
        for (int op = 0xb8; op < 0xc0; op++) {
            ONE[op] = IV;
        }
        ONE[0xc0] = M | I8;
        ONE[0xc1] = M | I8;
        ONE[0xc2] = I16;
        ONE[0xc4] = BAD; // VEX, handled before the table
        ONE[0xc5] = BAD;
        ONE[0xc6] = M | I8;
        ONE[0xc7] = M | IZ;
        ONE[0xc8] = I16 | I8;
        ONE[0xca] = I16;
        ONE[0xcd] = I8;
        ONE[0xd0] = M;
        ONE[0xd1] = M;
        ONE[0xd2] = M;
        ONE[0xd3] = M;
        ONE[0xd4] = BAD;
        ONE[0xd5] = BAD;
        ONE[0xd6] = BAD;
        for (int op = 0xd8; op < 0xe0; op++) {
            ONE[op] = M;
        }
        for (int op = 0xe0; op < 0xe8; op++) {
            ONE[op] = I8;
        }
        ONE[0xe8] = IZ;
        ONE[0xe9] = IZ;
        ONE[0xea] = BAD;
        ONE[0xeb] = I8;
        ONE[0xf0] = BAD;
        ONE[0xf2] = BAD;
        ONE[0xf3] = BAD;
        ONE[0xf6] = M; // test has an immediate, added when decoding
        ONE[0xf7] = M;
        ONE[0xfe] = M;
        ONE[0xff] = M;
    }

    /** Decodes every instruction of {@code code}, which must end exactly at its end; empty if any cannot be. */
    public static Optional<List<Instruction>> decodeAll(byte[] code) {
        List<Instruction> out = new ArrayList<>();
        int pos = 0;
        while (pos < code.length) {
            Instruction i = decode(code, pos);
            if (i == null) {
                return Optional.empty();
            }
            out.add(i);
            pos += i.length();
        }
        return Optional.of(out);
    }

    /** The instruction at {@code code[pos]}, or null if it is invalid, truncated or not decodable here. */
    public static Instruction decode(byte[] code, int pos) {
        try {
            return new Cursor(code, pos).instruction();
        } catch (ArrayIndexOutOfBoundsException e) {
            return null; // truncated
        }
    }

    /** State of one decode. */
    private static final class Cursor {
        private final byte[] code;
        private final int start;
        private int p;
        private boolean opsize16;
        private boolean repz;
        private int legacyPrefixes;
        private boolean addr32;
        private int rex;
        private int modrm = -1;

        Cursor(byte[] code, int start) {
            this.code = code;
            this.start = start;
            this.p = start;
        }

        private int next() {
            if (p >= code.length || p - start >= 15) {
                throw new ArrayIndexOutOfBoundsException(p);
            }
            return code[p++] & 0xff;
        }

        Instruction instruction() {
            int b;
            while (true) {
                b = next();
                switch (b) {
                    case 0x66 -> opsize16 = true;
                    case 0x67 -> addr32 = true;
                    case 0xf3 -> repz = true;
                    case 0xf2, 0xf0, 0x2e, 0x36, 0x3e, 0x26, 0x64, 0x65 -> {
                    }
                    default -> {
                        if ((b & 0xf0) == 0x40) {
                            rex = b;
                            b = next();
                            if ((b & 0xf0) == 0x40) {
                                return null; // two REX prefixes: not code a compiler emits
                            }
                        }
                        return opcode(b);
                    }
                }
                legacyPrefixes++;
            }
        }

        private boolean rexW() {
            return (rex & 8) != 0;
        }

        private int reg() {
            return ((modrm >> 3) & 7) | ((rex & 4) << 1);
        }

        private int rmReg() {
            return (modrm & 7) | ((rex & 1) << 3);
        }

        private boolean rmIsRegister() {
            return (modrm >> 6) == 3;
        }

        /** Reads ModRM, SIB and displacement. */
        private void modrm() {
            modrm = next();
            int mod = modrm >> 6;
            int rm = modrm & 7;
            if (mod == 3) {
                return;
            }
            int disp = mod == 1 ? 1 : mod == 2 ? 4 : 0;
            if (rm == 4) {
                int sib = next();
                if (mod == 0 && (sib & 7) == 5) {
                    disp = 4;
                }
            } else if (mod == 0 && rm == 5) {
                disp = 4; // rip-relative
            }
            skip(disp);
        }

        private void skip(int n) {
            for (int i = 0; i < n; i++) {
                next();
            }
        }

        private int izSize() {
            return opsize16 && !rexW() ? 2 : 4;
        }

        private long rel(int size) {
            long v = 0;
            for (int i = 0; i < size; i++) {
                v |= (long) next() << (8 * i);
            }
            long signed = size == 1 ? (byte) v : size == 2 ? (short) v : (int) v;
            return (p - start) + signed; // relative to the next instruction, made relative to start below
        }

        private Instruction make(Flow flow, long relTarget, int writes, boolean mem, boolean known, boolean emulated) {
            long target = relTarget == Long.MIN_VALUE ? -1 : start + relTarget;
            return new Instruction(start, p - start, flow, target, writes, mem, known, emulated);
        }

        private Instruction plain(int writes, boolean mem) {
            return make(Flow.NEXT, Long.MIN_VALUE, writes, mem, true, false);
        }

        private Instruction unknown() {
            return make(Flow.NEXT, Long.MIN_VALUE, 0, true, false, false);
        }

        /** An instruction writing its r/m operand (and {@code alsoWrites}). */
        private Instruction toRm(int alsoWrites) {
            return rmIsRegister() ? plain((1 << rmReg()) | alsoWrites, false) : plain(alsoWrites, true);
        }

        private Instruction opcode(int op) {
            if (op == 0x0f) {
                return twoByte();
            }
            if (op == 0xc4 || op == 0xc5 || op == 0x62) {
                return vex(op);
            }
            int kind = ONE[op];
            if ((kind & BAD) != 0) {
                return null;
            }
            if ((kind & M) != 0) {
                modrm();
            }
            long relTarget = Long.MIN_VALUE;
            boolean branchOp = (op >= 0x70 && op < 0x80) || (op >= 0xe0 && op <= 0xe3) || op == 0xeb;
            if (branchOp) {
                relTarget = rel(1);
            } else if (op == 0xe8 || op == 0xe9) {
                relTarget = rel(4);
            } else {
                if ((kind & I16) != 0) {
                    skip(2);
                }
                if ((kind & I8) != 0) {
                    skip(1);
                }
                if ((kind & IZ) != 0) {
                    skip(izSize());
                }
                if ((kind & IV) != 0) {
                    skip(rexW() ? 8 : izSize());
                }
                if ((kind & MOFFS) != 0) {
                    skip(addr32 ? 4 : 8);
                }
                if ((op == 0xf6 || op == 0xf7) && ((modrm >> 3) & 7) < 2) {
                    skip(op == 0xf6 ? 1 : izSize());
                }
            }
            boolean branchEmulated = !opsize16; // the kernel leaves 16-bit branches to single-stepping
            if (op < 0x40) {
                int alu = op >> 3;
                int form = op & 7;
                if (alu == 7) {
                    return plain(0, false); // cmp
                }
                if (form == 0 || form == 1) {
                    return toRm(0);
                }
                if (form == 2 || form == 3) {
                    return plain(1 << reg(), false);
                }
                return plain(1 << Instruction.RAX, false);
            }
            if (op >= 0x50 && op < 0x58) {
                boolean emulated = legacyPrefixes == 0 && (rex == 0 || rex == 0x41);
                return make(Flow.NEXT, Long.MIN_VALUE, 1 << Instruction.RSP, true, true, emulated);
            }
            if (op >= 0x58 && op < 0x60) {
                return plain((1 << ((op & 7) | ((rex & 1) << 3))) | (1 << Instruction.RSP), false);
            }
            if (op >= 0x70 && op < 0x80) {
                return make(Flow.BRANCH, relTarget, 0, false, true, branchEmulated);
            }
            if (op >= 0xb0 && op < 0xc0) {
                return plain(1 << ((op & 7) | ((rex & 1) << 3)), false);
            }
            if (op >= 0x91 && op < 0x98) {
                return plain((1 << Instruction.RAX) | (1 << ((op & 7) | ((rex & 1) << 3))), false);
            }
            int ext = modrm < 0 ? -1 : (modrm >> 3) & 7;
            return switch (op) {
                case 0x63, 0x69, 0x6b, 0x8a, 0x8b, 0x8d -> plain(1 << reg(), false);
                case 0x68, 0x6a -> plain(1 << Instruction.RSP, true);
                case 0x80, 0x81, 0x83 -> ext == 7 ? plain(0, false) : toRm(0);
                case 0x84, 0x85, 0xa8, 0xa9 -> plain(0, false);
                case 0x86, 0x87 -> toRm(1 << reg());
                case 0x88, 0x89, 0x8c -> toRm(0);
                case 0x8f -> ext == 0 ? toRm(1 << Instruction.RSP) : unknown();
                case 0x90 -> rex == 0 ? make(Flow.NEXT, Long.MIN_VALUE, 0, false, true, true)
                        : plain((1 << Instruction.RAX) | (1 << ((rex & 1) << 3)), false);
                case 0x98 -> plain(1 << Instruction.RAX, false);
                case 0x99 -> plain(1 << Instruction.RDX, false);
                case 0xc0, 0xc1, 0xd0, 0xd1, 0xd2, 0xd3 -> toRm(0);
                case 0xc2, 0xc3 -> make(Flow.RETURN, Long.MIN_VALUE, 1 << Instruction.RSP, false, true, false);
                case 0xc6, 0xc7 -> ext == 0 ? toRm(0) : unknown();
                case 0xc9 -> plain((1 << Instruction.RSP) | (1 << 5), false);
                case 0xcc, 0xf4 -> make(Flow.STOP, Long.MIN_VALUE, 0, false, true, false);
                case 0xe0, 0xe1, 0xe2, 0xe3 -> make(Flow.BRANCH, relTarget, 0, true, false, false);
                case 0xe8 -> make(Flow.CALL, relTarget, 0, true, true, branchEmulated);
                case 0xe9, 0xeb -> make(Flow.JUMP, relTarget, 0, false, true, branchEmulated);
                case 0xf6, 0xf7 -> ext < 2 ? plain(0, false)
                        : ext < 4 ? toRm(0) : plain((1 << Instruction.RAX) | (1 << Instruction.RDX), false);
                case 0xfe -> ext < 2 ? toRm(0) : null;
                case 0xff -> switch (ext) {
                    case 0, 1 -> toRm(0);
                    case 2 -> make(Flow.INDIRECT_CALL, Long.MIN_VALUE, 0, true, false, false);
                    case 4, 5 -> make(Flow.INDIRECT_JUMP, Long.MIN_VALUE, 0, false, false, false);
                    case 6 -> plain(1 << Instruction.RSP, true);
                    default -> unknown();
                };
                default -> unknown();
            };
        }

        private Instruction twoByte() {
            int op = next();
            if (op == 0x38) {
                next();
                modrm();
                return unknown();
            }
            if (op == 0x3a) {
                next();
                modrm();
                skip(1);
                return unknown();
            }
            if (op >= 0x80 && op < 0x90) {
                long relTarget = rel(4);
                return make(Flow.BRANCH, relTarget, 0, false, true, !opsize16);
            }
            switch (op) {
                case 0x05, 0x06, 0x07, 0x08, 0x09, 0x0e, 0x30, 0x31, 0x32, 0x33, 0x34, 0x35, 0x37, 0x77, 0xa0, 0xa1,
                        0xa2, 0xa8, 0xa9, 0xaa -> {
                    return unknown();
                }
                case 0x0b -> {
                    return make(Flow.STOP, Long.MIN_VALUE, 0, false, true, false); // ud2
                }
                default -> {
                }
            }
            if (op >= 0xc8 && op < 0xd0) {
                return plain(1 << ((op & 7) | ((rex & 1) << 3)), false); // bswap
            }
            if (op == 0x04 || op == 0x0a || op == 0x0c || op == 0x24 || op == 0x25 || op == 0x26 || op == 0x27
                    || op == 0x36 || op == 0x39 || (op >= 0x3b && op <= 0x3f) || op == 0x7a || op == 0x7b
                    || op == 0xa6 || op == 0xa7) {
                return null; // undefined
            }
            modrm();
            if (op == 0x70 || op == 0x71 || op == 0x72 || op == 0x73 || op == 0xa4 || op == 0xac || op == 0xba
                    || op == 0xc2 || op == 0xc4 || op == 0xc5 || op == 0xc6 || op == 0x0f) {
                skip(1);
            }
            if (op == 0x78 || op == 0x79) {
                return opsize16 || repz ? null : unknown(); // SSE4a extrq/insertq forms carry immediates
            }
            if (op == 0x1f) {
                return plain(0, false); // nop r/m
            }
            if (op == 0x1e && repz && (modrm == 0xfa || modrm == 0xfb)) {
                return plain(0, false); // endbr64, endbr32
            }
            if (op >= 0x40 && op < 0x50) {
                return plain(1 << reg(), false); // cmovcc
            }
            if (op == 0xb6 || op == 0xb7 || op == 0xbe || op == 0xbf || op == 0xaf) {
                return plain(1 << reg(), false); // movzx, movsx, imul
            }
            if (op >= 0x90 && op < 0xa0) {
                return toRm(0); // setcc
            }
            if (op == 0xa3) {
                return plain(0, false); // bt
            }
            return unknown();
        }

        /** VEX (c4, c5) and EVEX (62): vector instructions; a few of them write general registers. */
        private Instruction vex(int op) {
            int map;
            if (op == 0xc5) {
                next();
                map = 1;
            } else if (op == 0xc4) {
                map = next() & 0x1f;
                next();
            } else {
                map = next() & 0x7;
                next();
                next();
            }
            if (map < 1 || map > 3) {
                return null;
            }
            int opcode = next();
            modrm();
            if (map == 3 || (map == 1 && ((opcode >= 0x70 && opcode <= 0x73) || opcode == 0xc2 || opcode == 0xc4
                    || opcode == 0xc5 || opcode == 0xc6))) {
                skip(1);
            }
            return unknown();
        }
    }
}
