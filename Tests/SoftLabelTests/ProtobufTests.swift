import Testing
@testable import SoftLabel

/// The protobuf wire format, byte by byte: each expectation is worked out by hand from the encoding rules
/// (https://protobuf.dev/programming-guides/encoding/), not taken from the writer.
@Suite struct ProtobufTests {
    private func varint(_ v: UInt64) -> [UInt8] {
        var w = ProtobufWriter()
        w.varint(v)
        return w.bytes
    }

    /// 7 bits per byte, low group first, high bit set on every byte but the last.
    @Test func varintEdgeCases() {
        #expect(varint(0) == [0x00])
        #expect(varint(1) == [0x01])
        #expect(varint(127) == [0x7F])                       // the largest one-byte value
        #expect(varint(128) == [0x80, 0x01])                 // 128 = 0 + 1·128
        #expect(varint(150) == [0x96, 0x01])                 // the protobuf guide's example
        #expect(varint(300) == [0xAC, 0x02])                 // 300 = 44 + 2·128, 44 | 0x80 = 0xAC
        #expect(varint(16_383) == [0xFF, 0x7F])              // 2^14 - 1: the largest two-byte value
        #expect(varint(16_384) == [0x80, 0x80, 0x01])
        #expect(varint(UInt64(UInt32.max)) == [0xFF, 0xFF, 0xFF, 0xFF, 0x0F])  // 32 ones: 4 × 7 + 4
        #expect(varint(1 << 63) == [0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x80, 0x01])
        #expect(varint(.max) == [0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01])  // 64 = 9 × 7 + 1
    }

    /// A key is (field << 3) | wire type, itself a varint.
    @Test func keys() {
        func key(_ field: Int, _ type: ProtobufWriter.WireType) -> [UInt8] {
            var w = ProtobufWriter()
            w.key(field, type)
            return w.bytes
        }
        #expect(key(1, .varint) == [0x08])
        #expect(key(2, .fixed32) == [0x15])
        #expect(key(4, .lengthDelimited) == [0x22])
        #expect(key(15, .lengthDelimited) == [0x7A])         // the largest one-byte key: 15 << 3 | 2 = 122
        #expect(key(16, .varint) == [0x80, 0x01])            // 128
        #expect(key(20, .varint) == [0xA0, 0x01])            // AttributeProto.type: 160
        #expect(key((1 << 29) - 1, .fixed32) == [0xFD, 0xFF, 0xFF, 0xFF, 0x0F])
    }

    /// int64 fields carry negative numbers as their 64-bit two's complement: 10 bytes.
    @Test func int64Fields() {
        var w = ProtobufWriter()
        w.int64(3, 0)
        w.int64(3, 1)
        w.int64(3, -1)
        w.int64(3, -2)
        #expect(w.bytes == [0x18, 0x00,
                            0x18, 0x01,
                            0x18, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01,
                            0x18, 0xFE, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01])
    }

    /// Floats are their IEEE 754 bits, little-endian: 1 = 0x3F800000, -2 = 0xC0000000, 0.1 = 0x3DCCCCCD.
    @Test func floatFields() {
        var w = ProtobufWriter()
        w.float(2, 1)
        w.float(2, -2)
        w.float(2, 0.1)
        w.float(2, -0.0)
        #expect(w.bytes == [0x15, 0x00, 0x00, 0x80, 0x3F,
                            0x15, 0x00, 0x00, 0x00, 0xC0,
                            0x15, 0xCD, 0xCC, 0xCC, 0x3D,
                            0x15, 0x00, 0x00, 0x00, 0x80])
    }

    /// Strings: the length, then the UTF-8 bytes ("é" is two bytes, "犬" three).
    @Test func strings() {
        var w = ProtobufWriter()
        w.string(1, "")
        w.string(1, "Gemm")
        w.string(8, "é犬")
        #expect(w.bytes == [0x0A, 0x00,
                            0x0A, 0x04, 0x47, 0x65, 0x6D, 0x6D,
                            0x42, 0x05, 0xC3, 0xA9, 0xE7, 0x8A, 0xAC])
    }

    /// A packed repeated float: one key, the byte count (4 per value), then the values.
    @Test func packedFloats() {
        var w = ProtobufWriter()
        w.packedFloats(4, [1, -2, 0.5])
        #expect(w.bytes == [0x22, 0x0C, 0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0xC0, 0x00, 0x00, 0x00, 0x3F])
        var many = ProtobufWriter()
        many.packedFloats(4, [Float](repeating: 0, count: 40))  // 160 bytes: a two-byte length, A0 01
        #expect(Array(many.bytes.prefix(3)) == [0x22, 0xA0, 0x01] && many.bytes.count == 163)
    }

    /// A nested message is length-delimited: its own bytes, length first; a long one gets a multi-byte length.
    @Test func nestedMessages() {
        var w = ProtobufWriter()
        w.message(7) { inner in
            inner.int64(1, 150)
            inner.message(2) { $0.string(1, "N") }
        }
        // 3A 08 = field 7, 8 bytes: 08 96 01 = field 1: 150; 12 03 = field 2, 3 bytes: 0A 01 4E = field 1: "N".
        #expect(w.bytes == [0x3A, 0x08, 0x08, 0x96, 0x01, 0x12, 0x03, 0x0A, 0x01, 0x4E])
        var long = ProtobufWriter()
        long.message(1) { $0.string(1, String(repeating: "a", count: 200)) }  // inner: 0A C8 01 + 200 bytes = 203
        #expect(Array(long.bytes.prefix(6)) == [0x0A, 0xCB, 0x01, 0x0A, 0xC8, 0x01] && long.bytes.count == 206)
    }

    /// A whole TensorProto worked out by hand: dims 2 (field 1, unpacked in proto2: 08 02), data_type FLOAT
    /// (field 2: 10 01), float_data [1, -2] (field 4 packed: 22 08 + 8 bytes), name "w" (field 8: 42 01 77).
    /// onnx's `helper.make_tensor("w", TensorProto.FLOAT, [2], [1, -2]).SerializeToString()` gives the same bytes.
    @Test func tensorProtoByHand() {
        var w = ProtobufWriter()
        ONNX.Tensor(name: "w", dims: [2], values: [1, -2]).encode(&w)
        #expect(w.bytes == [0x08, 0x02, 0x10, 0x01, 0x22, 0x08, 0x00, 0x00, 0x80, 0x3F, 0x00, 0x00, 0x00, 0xC0, 0x42, 0x01, 0x77])
    }

    /// AttributeProto: name (field 1), i (field 3), type INT = 2 (field 20, key A0 01); a negative int takes 10 bytes.
    @Test func attributeByHand() {
        var w = ProtobufWriter()
        ONNX.Attribute(name: "axis", value: .int(-1)).encode(&w)
        #expect(w.bytes == [0x0A, 0x04, 0x61, 0x78, 0x69, 0x73,
                            0x18, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0x01,
                            0xA0, 0x01, 0x02])
    }
}
