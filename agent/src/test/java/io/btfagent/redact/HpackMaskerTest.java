package io.btfagent.redact;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import org.junit.jupiter.api.Test;

/** The HPACK decoder and masker against RFC 7541's Appendix C examples, and its masking rules. */
class HpackMaskerTest {
    static final byte[][] DEFAULT_NAMES = Redactor.DEFAULT_HEADERS.stream()
            .map(n -> n.getBytes(StandardCharsets.ISO_8859_1)).toArray(byte[][]::new);

    static byte[] hex(String s) {
        return HexFormat.of().parseHex(s.replace(" ", ""));
    }

    private static String decode(HpackMasker m, byte[] block) {
        StringBuilder out = new StringBuilder();
        m.blockStart();
        m.feed(block, 0, block.length, out);
        assertTrue(m.blockEnd(), "block ends between fields");
        return out.toString();
    }

    @Test
    void appendixC3RequestsWithoutHuffmanDecodeAndFillTheTable() {
        HpackMasker m = new HpackMasker(DEFAULT_NAMES, null);
        assertEquals(":method: GET\n:scheme: http\n:path: /\n:authority: www.example.com\n",
                decode(m, hex("8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d")));
        assertEquals(57, m.tableSize());
        assertEquals(":method: GET\n:scheme: http\n:path: /\n:authority: www.example.com\ncache-control: no-cache\n",
                decode(m, hex("8286 84be 5808 6e6f 2d63 6163 6865")));
        assertEquals(110, m.tableSize());
        assertEquals(":method: GET\n:scheme: https\n:path: /index.html\n:authority: www.example.com\n"
                + "custom-key: custom-value\n",
                decode(m, hex("8287 85bf 400a 6375 7374 6f6d 2d6b 6579 0c63 7573 746f 6d2d 7661 6c75 65")));
        assertEquals(164, m.tableSize());
    }

    @Test
    void appendixC4RequestsWithHuffmanDecodeTheSame() {
        HpackMasker m = new HpackMasker(DEFAULT_NAMES, null);
        assertEquals(":method: GET\n:scheme: http\n:path: /\n:authority: www.example.com\n",
                decode(m, hex("8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff")));
        assertEquals(57, m.tableSize());
        assertEquals(":method: GET\n:scheme: http\n:path: /\n:authority: www.example.com\ncache-control: no-cache\n",
                decode(m, hex("8286 84be 5886 a8eb 1064 9cbf")));
        assertEquals(110, m.tableSize());
        assertEquals(":method: GET\n:scheme: https\n:path: /index.html\n:authority: www.example.com\n"
                + "custom-key: custom-value\n",
                decode(m, hex("8287 85bf 4088 25a8 49e9 5ba9 7d7f 8925 a849 e95b b8e8 b4bf")));
        assertEquals(164, m.tableSize());
    }

    /** C.5: responses, table of 256 bytes with evictions; set-cookie is one of the masked headers. */
    @Test
    void appendixC5ResponsesEvictAndMaskSetCookie() {
        HpackMasker m = new HpackMasker(DEFAULT_NAMES, null);
        m.tableMaxSize(256);
        assertEquals(":status: 302\ncache-control: private\ndate: Mon, 21 Oct 2013 20:13:21 GMT\n"
                + "location: https://www.example.com\n",
                decode(m, hex("4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133"
                        + " 2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777 2e65 7861 6d70"
                        + " 6c65 2e63 6f6d")));
        assertEquals(222, m.tableSize());
        assertEquals(":status: 307\ncache-control: private\ndate: Mon, 21 Oct 2013 20:13:21 GMT\n"
                + "location: https://www.example.com\n", decode(m, hex("4803 3330 37c1 c0bf")));
        assertEquals(222, m.tableSize());
        byte[] third = hex("88c1 611d 4d6f 6e2c 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3220 474d 54c0"
                + " 5a04 677a 6970 7738 666f 6f3d 4153 444a 4b48 514b 425a 584f 5157 454f 5049 5541 5851 5745"
                + " 4f49 553b 206d 6178 2d61 6765 3d33 3630 303b 2076 6572 7369 6f6e 3d31");
        byte[] original = third.clone();
        String stars = "*".repeat("foo=ASDJKHQKBZXOQWEOPIUAXQWEOIU; max-age=3600; version=1".length());
        assertEquals(":status: 200\ncache-control: private\ndate: Mon, 21 Oct 2013 20:13:22 GMT\n"
                + "location: https://www.example.com\ncontent-encoding: gzip\nset-cookie: " + stars + "\n",
                decode(m, third));
        assertEquals(215, m.tableSize(), "sizes follow the original value, not the mask");
        // only the set-cookie value changed, byte for byte
        int valueAt = original.length - 56;
        assertArrayEquals(java.util.Arrays.copyOf(original, valueAt), java.util.Arrays.copyOf(third, valueAt));
        assertEquals(stars, new String(third, valueAt, 56, StandardCharsets.ISO_8859_1));
        // and the masked block still decodes, to the stars
        HpackMasker downstream = new HpackMasker(new byte[0][], null);
        downstream.tableMaxSize(256);
        decode(downstream, hex("4803 3330 3258 0770 7269 7661 7465 611d 4d6f 6e2c"
                + " 2032 3120 4f63 7420 3230 3133 2032 303a 3133 3a32 3120 474d 546e 1768 7474 7073 3a2f 2f77 7777"
                + " 2e65 7861 6d70 6c65 2e63 6f6d"));
        decode(downstream, hex("4803 3330 37c1 c0bf"));
        assertTrue(decode(downstream, third).endsWith("set-cookie: " + stars + "\n"));
    }

    /** C.6: the same with Huffman coding; a masked Huffman value becomes the code of '*' per byte. */
    @Test
    void appendixC6HuffmanResponsesMaskSetCookieAsHuffmanStars() {
        HpackMasker m = new HpackMasker(DEFAULT_NAMES, null);
        m.tableMaxSize(256);
        assertEquals(":status: 302\ncache-control: private\ndate: Mon, 21 Oct 2013 20:13:21 GMT\n"
                + "location: https://www.example.com\n",
                decode(m, hex("4882 6402 5885 aec3 771a 4b61 96d0 7abe 9410 54d4 44a8 2005 9504 0b81 66e0 82a6"
                        + " 2d1b ff6e 919d 29ad 1718 63c7 8f0b 97c8 e9ae 82ae 43d3")));
        assertEquals(222, m.tableSize());
        assertEquals(":status: 307\ncache-control: private\ndate: Mon, 21 Oct 2013 20:13:21 GMT\n"
                + "location: https://www.example.com\n", decode(m, hex("4883 640e ffc1 c0bf")));
        assertEquals(222, m.tableSize());
        byte[] third = hex("88c1 6196 d07a be94 1054 d444 a820 0595 040b 8166 e084 a62d 1bff c05a 839b d9ab 77ad"
                + " 94e7 821d d7f2 e6c7 b335 dfdf cd5b 3960 d5af 2708 7f36 72c1 ab27 0fb5 291f 9587 3160 65c0"
                + " 03ed 4ee5 b106 3d50 07");
        byte[] original = third.clone();
        String out = decode(m, third);
        assertEquals(215, m.tableSize());
        // the set-cookie value: 0xad = Huffman, 45 bytes, all now 0xf9; 45 stars when decoded
        int valueAt = original.length - 45;
        assertEquals((byte) 0xad, original[valueAt - 1]);
        for (int i = 0; i < valueAt; i++) {
            assertEquals(original[i], third[i], "byte " + i);
        }
        for (int i = valueAt; i < third.length; i++) {
            assertEquals((byte) 0xf9, third[i]);
        }
        assertTrue(out.endsWith("content-encoding: gzip\nset-cookie: " + "*".repeat(45) + "\n"), out);
        HpackMasker downstream = new HpackMasker(new byte[0][], null);
        StringBuilder lines = new StringBuilder();
        downstream.blockStart();
        byte[] onlyCookie = hex("0f28ad");
        byte[] field = java.util.Arrays.copyOf(onlyCookie, 3 + 45);
        System.arraycopy(third, valueAt, field, 3, 45);
        downstream.feed(field, 0, field.length, lines);
        assertEquals("set-cookie: " + "*".repeat(45) + "\n", lines.toString());
    }

    @Test
    void aMaskedValueIndexedIntoTheTableStaysMaskedWhenReferenced() {
        HpackMasker m = new HpackMasker(DEFAULT_NAMES, null);
        // authorization (static name 23) with incremental indexing, raw "Bearer t0k"
        byte[] first = hex("57 0a" + HexFormat.of().formatHex("Bearer t0k".getBytes(StandardCharsets.ISO_8859_1)));
        assertEquals("authorization: **********\n", decode(m, first));
        assertEquals("57 0a 2a2a2a2a2a2a2a2a2a2a".replace(" ", ""), HexFormat.of().formatHex(first));
        // referenced by index 62 later: the list shows the masked value
        assertEquals("authorization: **********\n", decode(m, hex("be")));
        assertEquals(13 + 10 + 32, m.tableSize());
    }

    @Test
    void neverIndexedLiteralsAreMaskedWhateverTheirName() {
        HpackMasker m = new HpackMasker(DEFAULT_NAMES, null);
        byte[] block = hex("10 03 786b 79 03 616263"); // never indexed, literal name "xky", value "abc"
        assertEquals("xky: ***\n", decode(m, block));
        assertEquals("10 03 786b79 03 2a2a2a".replace(" ", ""), HexFormat.of().formatHex(block));
    }

    @Test
    void aHuffmanCodedNameIsRecognised() {
        HpackMasker m = new HpackMasker(new byte[][] {"x-api-key".getBytes(StandardCharsets.ISO_8859_1)}, null);
        byte[] name = Huffman.encode("x-api-key");
        byte[] value = "k-123".getBytes(StandardCharsets.ISO_8859_1);
        byte[] block = new byte[2 + name.length + 1 + value.length];
        block[0] = 0x00;
        block[1] = (byte) (0x80 | name.length);
        System.arraycopy(name, 0, block, 2, name.length);
        block[2 + name.length] = (byte) value.length;
        System.arraycopy(value, 0, block, 3 + name.length, value.length);
        assertEquals("x-api-key: *****\n", decode(m, block));
    }

    @Test
    void aFieldSplitIntoOneBytePiecesIsMaskedTheSame() {
        byte[] block = hex("8286 8441 8cf1 e3c2 e5f2 3a6b a0ab 90f4 ff 57 0a"
                + HexFormat.of().formatHex("Bearer t0k".getBytes(StandardCharsets.ISO_8859_1)));
        HpackMasker m = new HpackMasker(DEFAULT_NAMES, null);
        StringBuilder out = new StringBuilder();
        m.blockStart();
        for (int i = 0; i < block.length; i++) {
            m.feed(block, i, 1, out);
        }
        assertTrue(m.blockEnd());
        assertTrue(out.toString().endsWith("authorization: **********\n"), out.toString());
        assertTrue(new String(block, StandardCharsets.ISO_8859_1).endsWith("**********"));
    }

    @Test
    void withTheTableUnknownEveryLiteralValueIsMaskedUntilItIsEmptied() {
        HpackMasker m = new HpackMasker(DEFAULT_NAMES, null);
        m.tableLost();
        byte[] block = hex("40 03 616263 03 646566"); // literal name "abc", value "def", indexed
        assertEquals("abc: ***\n", decode(m, block));
        assertFalse(m.tableKnown());
        assertEquals("(dynamic entry 62, unknown)\n", decode(m, hex("be")));
        // a size update to 0 empties the table: known again, values judged by name
        byte[] after = hex("20 3fe11f 40 03 616263 03 646566");
        assertEquals("(table size 0)\n(table size 4096)\nabc: def\n", decode(m, after));
        assertTrue(m.tableKnown());
        assertEquals("203fe11f40036162630364656" + "6", HexFormat.of().formatHex(after));
    }

    @Test
    void growingTheTableKeepsItsEntries() {
        HpackMasker m = new HpackMasker(DEFAULT_NAMES, null);
        decode(m, hex("8286 8441 0f77 7777 2e65 7861 6d70 6c65 2e63 6f6d")); // :authority www.example.com
        decode(m, hex("57 03 616263")); // authorization: abc, masked, indexed
        // size update to 10000 (31 + 9969 = 0x3f 0xf1 0x4d), then both entries by index
        assertEquals("(table size 10000)\nauthorization: ***\n:authority: www.example.com\n",
                decode(m, hex("3f f14d be bf")));
        assertEquals(57 + 13 + 3 + 32, m.tableSize());
        // and shrinking to 60 keeps only the newest that fits
        assertEquals("(table size 60)\nauthorization: ***\n", decode(m, hex("3f 1d be")));
        m.blockStart();
        byte[] gone = hex("bf");
        m.feed(gone, 0, 1, null);
        assertTrue(m.failed(), "the evicted entry is gone");
    }

    @Test
    void aDecodingErrorIsReported() {
        HpackMasker m = new HpackMasker(DEFAULT_NAMES, null);
        m.blockStart();
        byte[] bad = hex("c0"); // dynamic index 2 of an empty table
        m.feed(bad, 0, bad.length, null);
        assertTrue(m.failed());
    }

    @Test
    void aPatternOnADecodedValueMasksTheWholeValue() {
        HpackMasker m = new HpackMasker(DEFAULT_NAMES,
                (v, n) -> new String(v, 0, n, StandardCharsets.ISO_8859_1).contains("secret"));
        byte[] value = Huffman.encode("x-secret-1");
        byte[] block = new byte[3 + value.length];
        block[0] = 0x0f; // literal without indexing, static name user-agent (58 = 15 + 43), not masked by name
        block[1] = (byte) (58 - 15);
        block[2] = (byte) (0x80 | value.length);
        System.arraycopy(value, 0, block, 3, value.length);
        assertEquals("user-agent: " + "*".repeat(value.length) + "\n", decode(m, block));
        for (int i = 3; i < block.length; i++) {
            assertEquals((byte) 0xf9, block[i]);
        }
    }

    /** A small Huffman encoder for the tests, from the code table. */
    static final class Huffman {
        static byte[] encode(String s) {
            long bits = 0;
            int n = 0;
            java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
            for (byte b : s.getBytes(StandardCharsets.ISO_8859_1)) {
                int sym = b & 0xff;
                bits = bits << Hpack.codeLength(sym) | Hpack.code(sym);
                n += Hpack.codeLength(sym);
                while (n >= 8) {
                    out.write((int) (bits >>> (n - 8)));
                    n -= 8;
                }
            }
            if (n > 0) {
                out.write((int) ((bits << (8 - n)) | (0xff >>> n)));
            }
            return out.toByteArray();
        }
    }
}
