package io.btfagent.btf;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import io.btfagent.elf.ElfFile;
import io.btfagent.testing.Fixtures;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.api.Test;

/**
 * Expected offsets were read with {@code bpftool btf dump file <file> format raw}, independently
 * of the parser under test.
 */
class BtfFileTest {

    private static byte[] catalogBtf() {
        return Fixtures.bytes(Fixtures.CATALOG_BTF_RESOURCE);
    }

    static byte[] objectBtf() throws IOException {
        return ElfFile.of(Fixtures.bytes(Fixtures.BPF_OBJECT_RESOURCE), Fixtures.BPF_OBJECT_RESOURCE)
                .section(".BTF").orElseThrow();
    }

    private static BtfFormatException rejects(byte[] data) {
        return assertThrows(BtfFormatException.class, () -> BtfFile.parse(data));
    }

    // ---- the real catalog file -------------------------------------------------------------

    @Test
    void catalogBtfHasTheOpensslOffsetsTheProgramReads() throws BtfFormatException {
        BtfFile btf = BtfFile.parse(catalogBtf());
        BtfFile.Struct ssl = btf.struct("ssl_st").orElseThrow();
        BtfFile.Struct bio = btf.struct("bio_st").orElseThrow();
        BtfFile.Struct method = btf.struct("bio_method_st").orElseThrow();

        assertEquals(16, ssl.offsetOf("rbio"));
        assertEquals(24, ssl.offsetOf("wbio"));
        assertEquals(56, bio.offsetOf("num"));
        assertEquals(8, bio.offsetOf("method"));
        assertEquals(0, method.offsetOf("type"));
    }

    @Test
    void catalogBtfSizesAndCountsMatchBpftool() throws BtfFormatException {
        BtfFile btf = BtfFile.parse(catalogBtf());
        assertEquals(493, btf.typeCount());
        assertEquals(7608, btf.struct("ssl_st").orElseThrow().size());
        assertEquals(130, btf.struct("ssl_st").orElseThrow().memberBitOffsets().size());
        assertEquals(136, btf.struct("bio_st").orElseThrow().size());
        assertEquals(96, btf.struct("bio_method_st").orElseThrow().size());
        assertEquals(Long.valueOf(448), btf.struct("bio_st").orElseThrow().memberBitOffsets().get("num"));
    }

    @Test
    void unknownStructAndMemberAreReported() throws BtfFormatException {
        BtfFile btf = BtfFile.parse(catalogBtf());
        assertEquals(Optional.empty(), btf.struct("no_such_st"));
        assertEquals(Optional.empty(), btf.struct("bignum_st"), "only a forward declaration in this BTF");
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> btf.struct("bio_st").orElseThrow().offsetOf("rbio"));
        assertEquals("struct bio_st has no member rbio", e.getMessage());
    }

    // ---- the BPF object's own .BTF ---------------------------------------------------------

    @Test
    void objectBtfHasTheRodataSettings() throws IOException, BtfFormatException {
        BtfFile btf = BtfFile.parse(objectBtf());
        assertEquals(Optional.of(0L), btf.variableOffset(".rodata", "max_capture"));
        // clang leaves every offset in the object's DATASEC at 0; libbpf fixes them from .symtab
        assertEquals(Optional.of(0L), btf.variableOffset(".rodata", "target_tgid"));
        assertEquals(Optional.empty(), btf.variableOffset(".rodata", "events"));
        assertEquals(Optional.of(0L), btf.variableOffset(".maps", "events"));
        assertEquals(Optional.empty(), btf.variableOffset(".bss", "max_capture"));
        assertEquals(128, btf.struct("capture_header").orElseThrow().size());
    }

    // ---- hand-written BTF ------------------------------------------------------------------

    @Test
    void handWrittenBtfParses() throws BtfFormatException {
        BtfBuilder b = new BtfBuilder();
        int u32 = b.intType("u32", 4);
        int u64 = b.intType("u64", 8);
        b.type(b.str("pair"), BtfBuilder.FWD, false, 0, 0); // forward declaration first
        b.struct("pair", 0); // an empty definition is skipped too
        b.struct("pair", 16, b.str("a"), u32, 0, b.str("b"), u64, 64);
        b.type(b.str("either"), BtfBuilder.UNION, false, 2, 8, b.str("x"), u32, 0, b.str("y"), u64, 0);
        // kind_flag set: member offsets carry the bit-field size in the top 8 bits
        b.type(b.str("flags"), BtfBuilder.STRUCT, true, 2, 4, b.str("lo"), u32, (3 << 24) | 0,
                b.str("hi"), u32, (5 << 24) | 3);
        b.type(b.str("fn"), BtfBuilder.FUNC_PROTO, false, 2, u32, 0, u32, 0, u64);
        b.type(b.str("e"), BtfBuilder.ENUM, false, 2, 4, b.str("A"), 0, b.str("B"), 1);
        b.type(0, BtfBuilder.ARRAY, false, 0, 0, u32, u32, 16);
        int v1 = b.var("first", u32);
        int v2 = b.var("second", u64);
        b.datasec(".rodata", 16, v1, 0, 4, v2, 8, 8);

        BtfFile btf = BtfFile.parse(b.build());
        assertEquals(13, btf.typeCount());
        BtfFile.Struct pair = btf.struct("pair").orElseThrow();
        assertEquals(16, pair.size());
        assertEquals(Map.of("a", 0L, "b", 64L), pair.memberBitOffsets());
        assertEquals(8, pair.offsetOf("b"));
        assertEquals(Map.of("x", 0L, "y", 0L), btf.struct("either").orElseThrow().memberBitOffsets());
        Map<String, Long> bits = new LinkedHashMap<>();
        bits.put("lo", 0L);
        bits.put("hi", 3L);
        assertEquals(bits, btf.struct("flags").orElseThrow().memberBitOffsets());
        assertEquals(Optional.of(0L), btf.variableOffset(".rodata", "first"));
        assertEquals(Optional.of(8L), btf.variableOffset(".rodata", "second"));
    }

    // ---- malformed input: always BtfFormatException ----------------------------------------

    @Test
    void emptyInputIsRejected() {
        assertEquals("too short for a BTF header (0 bytes)", rejects(new byte[0]).getMessage());
        assertEquals("too short for a BTF header (23 bytes)", rejects(Arrays.copyOf(catalogBtf(), 23)).getMessage());
    }

    @Test
    void badMagicIsRejected() throws IOException {
        byte[] elf = Fixtures.bytes(Fixtures.BPF_OBJECT_RESOURCE); // the ELF, not its .BTF section
        assertEquals("bad magic 0x457f (expected 0xeb9f)", rejects(elf).getMessage());
        byte[] swapped = catalogBtf();
        swapped[0] = (byte) 0xeb;
        swapped[1] = (byte) 0x9f; // big-endian BTF
        assertEquals("bad magic 0x9feb (expected 0xeb9f)", rejects(swapped).getMessage());
    }

    @Test
    void fileCutInsideTheTypeSectionIsRejected() {
        byte[] cut = Arrays.copyOf(catalogBtf(), 24 + 1000);
        assertEquals("section bounds exceed the file (1024 bytes)", rejects(cut).getMessage());
    }

    @Test
    void typeSectionEndingMidTypeIsRejected() {
        BtfBuilder b = new BtfBuilder();
        int u32 = b.intType("u32", 4);
        b.struct("s", 4, b.str("m"), u32, 0);
        // Claim 4 bytes fewer types: the struct's member runs past the type section.
        byte[] data = b.build(0, b.typeBytes() - 4, b.typeBytes(), b.stringBytes());
        assertEquals("type section ends mid-type", rejects(data).getMessage());
    }

    @Test
    void typeRecordPastTheEndOfTheFileIsRejected() {
        BtfBuilder b = new BtfBuilder();
        b.intType("u32", 4);
        b.type(0, BtfBuilder.STRUCT, false, 1000, 4); // 1000 members announced, none present
        byte[] data = b.build(0, b.typeBytes(), b.typeBytes(), b.stringBytes());
        BtfFormatException e = rejects(data);
        assertEquals("type section ends mid-type", e.getMessage());
    }

    @Test
    void headerBoundsAreChecked() {
        BtfBuilder b = new BtfBuilder();
        b.intType("u32", 4);
        int t = b.typeBytes();
        int s = b.stringBytes();
        assertEquals("section bounds exceed the file (" + (24 + t + s) + " bytes)",
                rejects(b.build(0, t, t, s + 1)).getMessage());
        assertEquals("section bounds exceed the file (" + (24 + t + s) + " bytes)",
                rejects(b.build(0, -1, t, s)).getMessage());
        assertEquals("section bounds exceed the file (" + (24 + t + s) + " bytes)",
                rejects(b.build(-4, t, t, s)).getMessage());
        assertEquals("section bounds exceed the file (" + (24 + t + s) + " bytes)",
                rejects(b.build(Integer.MAX_VALUE, t, t, s)).getMessage());
        byte[] shortHeader = b.build();
        ByteBuffer.wrap(shortHeader).order(ByteOrder.LITTLE_ENDIAN).putInt(4, 16);
        assertEquals("section bounds exceed the file (" + (24 + t + s) + " bytes)", rejects(shortHeader).getMessage());
    }

    @Test
    void stringOffsetOutOfRangeIsRejected() {
        BtfBuilder b = new BtfBuilder();
        int u32 = b.intType("u32", 4);
        b.type(5000, BtfBuilder.STRUCT, false, 1, 4, b.str("m"), u32, 0);
        assertEquals("truncated or inconsistent BTF (string offset 5000 outside string section)",
                rejects(b.build()).getMessage());

        BtfBuilder m = new BtfBuilder();
        int t = m.intType("u32", 4);
        m.type(m.str("s"), BtfBuilder.STRUCT, false, 1, 4, -7, t, 0); // negative member name offset
        assertEquals("truncated or inconsistent BTF (string offset -7 outside string section)",
                rejects(m.build()).getMessage());
    }

    /**
     * Header offsets are u32 (linux/btf.h). A str_off of 0xffffffe8 (-24 as an int) makes the
     * string section start at the header, and str_off 0 overlaps the type section; libbpf rejects
     * both ("Invalid BTF data sections layout"), the parser reads names out of header/type bytes.
     */
    @Test
    void negativeOrOverlappingStringSectionIsRejected() {
        BtfBuilder b = new BtfBuilder();
        int u32 = b.intType("u32", 4);
        b.struct("s", 4, b.str("m"), u32, 0);
        rejects(b.build(0, b.typeBytes(), -24, b.stringBytes()));
        rejects(b.build(0, b.typeBytes(), 0, b.stringBytes()));
    }

    @Test
    void unknownKindIsRejected() {
        BtfBuilder b = new BtfBuilder();
        b.intType("u32", 4);
        b.type(0, 20, false, 0, 0);
        assertEquals("unknown BTF kind 20", rejects(b.build()).getMessage());

        BtfBuilder z = new BtfBuilder();
        z.type(0, 0, false, 0, 0);
        assertEquals("unknown BTF kind 0", rejects(z.build()).getMessage());
    }

    @Test
    void dataSectionEntryThatIsNotAVariableIsRejected() {
        BtfBuilder b = new BtfBuilder();
        int u32 = b.intType("u32", 4);
        b.datasec(".data", 4, u32, 0, 4);
        assertEquals("data section entry refers to type 1, not a variable", rejects(b.build()).getMessage());

        BtfBuilder c = new BtfBuilder();
        c.intType("u32", 4);
        c.datasec(".data", 4, 99, 0, 4);
        assertEquals("data section entry refers to type 99, not a variable", rejects(c.build()).getMessage());
    }

    // ---- fuzzing -------------------------------------------------------------------------

    private static void parseOrFormatError(byte[] data, String what, int[] outcomes) {
        try {
            BtfFile.parse(data);
            outcomes[0]++;
        } catch (BtfFormatException e) {
            outcomes[1]++;
        } catch (Throwable t) {
            fail(what + ": " + t, t);
        }
    }

    @Test
    void flippedBytesEitherParseOrFailWithBtfFormatException() {
        byte[] original = catalogBtf();
        int typeEnd = 24 + 18572; // bpftool: type section of this file
        Random random = new Random(0x5eedL);
        int[] outcomes = new int[2];
        for (int i = 0; i < 2000; i++) {
            byte[] data = original.clone();
            int flips = 1 + random.nextInt(4);
            for (int f = 0; f < flips; f++) {
                // Most flips hit the header and type section, where they matter most.
                int at = random.nextInt(4) == 0 ? random.nextInt(data.length) : random.nextInt(typeEnd);
                data[at] ^= (byte) (1 + random.nextInt(255));
            }
            parseOrFormatError(data, "iteration " + i, outcomes);
        }
        assertEquals(2000, outcomes[0] + outcomes[1]);
        assertTrue(outcomes[0] > 0 && outcomes[1] > 0, "both outcomes occur: " + Arrays.toString(outcomes));
    }

    @Test
    void headerFieldsSetToExtremesEitherParseOrFailWithBtfFormatException() {
        byte[] original = catalogBtf();
        int[] extremes = {0, 1, -1, 23, 24, 25, Integer.MAX_VALUE, Integer.MIN_VALUE, original.length,
            original.length - 23, 18572, 18572 + 1, 13554, 13554 + 1};
        int[] outcomes = new int[2];
        for (int field = 4; field < 24; field += 4) {
            for (int v : extremes) {
                byte[] data = original.clone();
                ByteBuffer.wrap(data).order(ByteOrder.LITTLE_ENDIAN).putInt(field, v);
                parseOrFormatError(data, "header word at " + field + " = " + v, outcomes);
            }
        }
        assertTrue(outcomes[1] > 0);
    }

    @Test
    void everyPrefixOfTheObjectBtfEitherParsesOrFailsWithBtfFormatException() throws IOException {
        byte[] original = objectBtf();
        int[] outcomes = new int[2];
        for (int len = 0; len <= original.length; len++) {
            parseOrFormatError(Arrays.copyOf(original, len), "prefix of " + len + " bytes", outcomes);
        }
        assertEquals(1, outcomes[0], "only the whole section parses");
    }

    @Test
    void flippedBytesOfTheObjectBtfEitherParseOrFailWithBtfFormatException() throws IOException {
        byte[] original = objectBtf();
        Random random = new Random(42);
        int[] outcomes = new int[2];
        for (int i = 0; i < 2000; i++) {
            byte[] data = original.clone();
            data[random.nextInt(data.length)] ^= (byte) (1 + random.nextInt(255));
            parseOrFormatError(data, "iteration " + i, outcomes);
        }
        assertTrue(outcomes[0] > 0 && outcomes[1] > 0, Arrays.toString(outcomes));
    }
}
