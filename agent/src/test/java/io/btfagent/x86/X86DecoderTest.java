package io.btfagent.x86;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.btfagent.x86.Instruction.Flow;
import org.junit.jupiter.api.Test;

class X86DecoderTest {
    private static Instruction one(String hex) {
        byte[] b = ProbePlacementTest.hex(hex);
        Instruction i = X86Decoder.decode(b, 0);
        assertNotNull(i, hex);
        assertEquals(b.length, i.length(), hex);
        return i;
    }

    @Test
    void lengthsOfPrologueAndEpilogueInstructions() {
        one("f30f1efa");
        one("644c8b0c2528000000");
        one("41c781b400000001000000");
        one("0f1f840000000000");
        one("48b88877665544332211"); // movabs $imm64,%rax
        one("66b83412"); // mov $imm16,%ax
        one("c5f9efc0"); // vpxor
        one("62f1fe487f00"); // vmovdqu64 %zmm0,(%rax)
        one("c4e37d18c101"); // vinsertf128 $1
        one("660f3a0fc108"); // palignr $8
        one("f6c280"); // test $0x80,%dl
        one("f7c200010000"); // test $0x100,%edx
    }

    @Test
    void effectsThatPlacementRelies() {
        assertTrue(one("31c0").writes(Instruction.RAX));
        assertTrue(!one("85d2").known() || one("85d2").writes() == 0);
        assertTrue(one("4883ec18").writes(Instruction.RSP));
        assertTrue(one("4889442408").writesMemory());
        assertTrue(one("0f48c2").writes(Instruction.RAX)); // cmovs %edx,%eax
        assertTrue(one("4989f9").writes(9)); // mov %rdi,%r9
        assertEquals(0, one("4989f9").writes() & (1 << Instruction.RDI));
        assertEquals(Flow.RETURN, one("c3").flow());
        assertEquals(Flow.INDIRECT_JUMP, one("ffe0").flow());
        assertEquals(Flow.STOP, one("0f0b").flow());
    }

    @Test
    void whatTheKernelEmulates() {
        assertTrue(one("55").emulated());
        assertTrue(one("4155").emulated());
        assertTrue(one("90").emulated());
        assertTrue(one("7400").emulated());
        assertTrue(one("0f8500000000").emulated());
        assertTrue(one("e800000000").emulated());
        assertTrue(one("eb00").emulated());
        assertTrue(!one("4883ec18").emulated());
        assertTrue(!one("f30f1efa").emulated());
        assertTrue(!one("c3").emulated());
        assertTrue(!one("0f1f4000").emulated());
    }

    @Test
    void branchTargetsAreRelativeToTheDecodedCode() {
        byte[] code = ProbePlacementTest.hex("90 90 7403 e8f7ffffff");
        Instruction jcc = X86Decoder.decode(code, 2);
        assertEquals(7, jcc.target());
        Instruction call = X86Decoder.decode(code, 4);
        assertEquals(0, call.target());
    }
}
