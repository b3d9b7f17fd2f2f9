package io.btfagent.x86;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.HexFormat;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Placements of real functions, their bytes copied from Debian's builds (objdump -d). */
class ProbePlacementTest {
    private static final int ARGS = (1 << Instruction.RDI) | (1 << Instruction.RSI) | (1 << Instruction.RDX);
    private static final int ARGS_EX = ARGS | (1 << Instruction.RCX);

    /** libssl3 3.0.19-1~deb12u2 (bookworm-security): SSL_write. */
    static final String SSL_WRITE_3_0_19 = "4883ec18644 88b042528000000 4889442408 31c0 85d2 782f 4889e1 4863d2"
            + " e8fdfbffff 85c0 7e03 8b0424 488b542408 64482b142528000000 7544 4883c418 31d2 31c9 31f6 31ff c3"
            + " e8f499feff 488d1525cf0400 be46080000 488d3d12c70400 e8dca0feff 31c0 31d2 be0f010000 bf14000000"
            + " e8f99efeff b8ffffffff ebac e8edabfeff";
    /** the same build's SSL_read_ex: its result goes through cmovs right before the return. */
    static final String SSL_READ_EX_3_0_19 = "4883ec08 e8c7fdffff 31d2 85c0 0f48c2 4883c408 31d2 31c9 31f6 31ff c3";
    /** libgnutls30 3.7.9-2+deb12u7: gnutls_record_send, a tail call. */
    static final String GNUTLS_RECORD_SEND_3_7_9 = "4531c0 31c9 e9869cffff";
    /** libssl4 4.0.3-1 (experimental): SSL_write, starting with endbr64. */
    static final String SSL_WRITE_4_0_3 = "f30f1efa 4883ec38 644c8b0c2528000000 4c894c2428 4989f9 4885ff 740f 418b01"
            + " 85c0 7453 a880 0f85a3000000 85d2 0f880e010000 31c9 89d2 4c8d442420 4c89cf e89af8ffff 85c0"
            + " 0f4f442420 488b542428 64482b142528000000 0f8517010000 4883c438 31d2 31c9 31f6 31ff 4531c0"
            + " 4531c9 c3 0f1f4000 85d2 79b9 4c894c2408 e8aa95fdff 488d15fbcb0a00 be050b0000 488d3d70200a00"
            + " e8c28bfdff 31d2 be0f010000 31c0 bf14000000 e82f8efdff 4c8b4c2408 41c781b400000001000000"
            + " b8ffffffff eb85 0f1f840000000000 4c89cf 8954241c 4889742410 4c894c2408 e86a1a0400 8b54241c"
            + " 4c8b4c2408 488b742410 85d2 0f8939ffffff 4889442408 e82a95fdff 488d157bcb0a00 be050b0000"
            + " 488d3df01f0a00 e8428bfdff 31d2 be0f010000 31c0 bf14000000 e8af8dfdff 488b4c2408 4885c9 7486"
            + " 4989c9 e973ffffff e8e894fdff 488d1539cb0a00 be050b0000 488d3dae1f0a00 e8008bfdff 31d2"
            + " be0f010000 31c0 bf14000000 e86d8dfdff e949ffffff e85394fdff";

    static byte[] hex(String s) {
        return HexFormat.of().parseHex(s.replace(" ", ""));
    }

    @Test
    void openssl30WriteMovesBothSidesOffTheSingleSteppedSub() {
        ProbePlacement p = ProbePlacement.plan("SSL_write", hex(SSL_WRITE_3_0_19), ARGS);
        assertEquals(0x16, p.entry(), p.reason()); // js after test %edx,%edx
        assertEquals(-1, p.returnProbe(), p.reason());
        assertEquals(List.of(0x38L), p.exits(), p.reason()); // the stack protector's jne before ret
    }

    @Test
    void openssl40WriteSkipsEndbrAndFindsItsOnlyReturn() {
        ProbePlacement p = ProbePlacement.plan("SSL_write", hex(SSL_WRITE_4_0_3), ARGS);
        assertEquals(0x1c, p.entry(), p.reason()); // je after test %rdi,%rdi; mov %rdi,%r9 writes no argument
        assertEquals(List.of(0x5bL), p.exits(), p.reason());
    }

    @Test
    void resultComputedRightBeforeTheReturnKeepsTheEntry() {
        ProbePlacement p = ProbePlacement.plan("SSL_read_ex", hex(SSL_READ_EX_3_0_19), ARGS_EX);
        assertEquals(ProbePlacement.atEntry("SSL_read_ex", "").entry(), p.entry());
        assertEquals(0, p.returnProbe(), p.reason());
        assertEquals(List.of(), p.exits());
    }

    @Test
    void tailCallWrapperTakesBothProbesOnItsJump() {
        // xor %ecx,%ecx writes rcx, which gnutls_record_send's entry program does not read
        ProbePlacement p = ProbePlacement.plan("gnutls_record_send", hex(GNUTLS_RECORD_SEND_3_7_9), ARGS);
        assertEquals(5, p.entry(), p.reason());
        assertEquals(5, p.returnProbe(), p.reason());
    }

    @Test
    void writingAnArgumentTheProgramReadsKeepsTheEntry() {
        ProbePlacement p = ProbePlacement.plan("gnutls_record_send", hex(GNUTLS_RECORD_SEND_3_7_9), ARGS_EX);
        assertEquals(0, p.entry(), p.reason());
        assertEquals(0, p.returnProbe(), p.reason());
    }

    @Test
    void aJumpBackIntoTheStartKeepsTheEntry() {
        // sub $8,%rsp; test %edx,%edx; (+6) nop %eax...: je back to +4; add; ret
        byte[] code = hex("4883ec08 85d2 0f1f00 74f9 4883c408 c3");
        ProbePlacement p = ProbePlacement.plan("f", code, ARGS);
        assertEquals(0, p.entry(), p.reason());
        assertEquals(0, p.returnProbe(), p.reason());
    }

    @Test
    void aJumpIntoTheEpilogueBetweenProbeAndReturnKeepsTheEntry() {
        // sub; test; js +x (entry); call; test; jne over (+0x13); mov $1,%eax; add $8,%rsp <- target; ret
        byte[] code = hex("4883ec08 85d2 7813 e800000000 85c0 7505 b801000000 4883c408 c3 e800000000");
        ProbePlacement p = ProbePlacement.plan("f", code, ARGS);
        assertEquals(0, p.entry(), p.reason());
    }

    @Test
    void anIndirectJumpOrUndecodableCodeKeepsTheEntry() {
        assertEquals(0, ProbePlacement.plan("f", hex("4883ec08 7400 ffe0 c3"), ARGS).entry());
        assertEquals(0, ProbePlacement.plan("f", hex("4883ec08 7400 06 c3"), ARGS).entry());
    }

    @Test
    void pushFirstIsAlreadyEmulated() {
        // BoringSSL (netty-tcnative) starts SSL_write with push %rbp
        ProbePlacement p = ProbePlacement.plan("SSL_write", hex("55 4889e5 5d c3"), ARGS);
        assertEquals(0, p.entry());
        assertEquals(0, p.returnProbe());
        assertEquals(false, p.moved());
    }
}
