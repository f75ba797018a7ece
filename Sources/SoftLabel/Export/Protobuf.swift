/// The Protocol Buffers wire format, the part an ONNX file needs (https://protobuf.dev/programming-guides/encoding/).
///
/// A message is a sequence of fields; each is a key, the varint (field number << 3) | wire type, then the
/// value: a varint (wire type 0: integers, enums, bools), 4 little-endian bytes (wire type 5: float), or a
/// varint length followed by that many bytes (wire type 2: strings, bytes, nested messages and packed
/// repeated numbers). Fields are written in the order the caller writes them; the ONNX writer writes them
/// in field-number order, as protobuf's own serialisers do, so its output can be compared byte for byte.
struct ProtobufWriter {
    enum WireType: UInt8 {
        case varint = 0
        case fixed32 = 5
        case lengthDelimited = 2
    }

    private(set) var bytes: [UInt8] = []

    /// Base 128, least significant group first; the high bit of each byte says another byte follows.
    /// 0 → 00, 127 → 7F, 128 → 80 01, 300 → AC 02, UInt64.max → FF × 9, 01.
    mutating func varint(_ value: UInt64) {
        var v = value
        while v >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: v) | 0x80)
            v >>= 7
        }
        bytes.append(UInt8(v))
    }

    mutating func key(_ field: Int, _ type: WireType) {
        precondition(field >= 1 && field < 1 << 29, "protobuf field numbers are 1...2^29-1")
        varint(UInt64(field) << 3 | UInt64(type.rawValue))
    }

    /// An int64 (or int32 or enum) field: negative values are their 64-bit two's complement, always 10 bytes
    /// (protobuf's `int64`, not the zigzag `sint64`).
    mutating func int64(_ field: Int, _ value: Int64) {
        key(field, .varint)
        varint(UInt64(bitPattern: value))
    }

    /// A float field: the IEEE 754 bits, little-endian.
    mutating func float(_ field: Int, _ value: Float) {
        key(field, .fixed32)
        appendLittleEndian(value)
    }

    /// A string field: its UTF-8 bytes, length first.
    mutating func string(_ field: Int, _ value: String) {
        lengthDelimited(field, Array(value.utf8))
    }

    mutating func lengthDelimited(_ field: Int, _ payload: [UInt8]) {
        key(field, .lengthDelimited)
        varint(UInt64(payload.count))
        bytes += payload
    }

    /// A nested message field: `build` writes the message into a writer of its own, which goes in length-first.
    mutating func message(_ field: Int, _ build: (inout ProtobufWriter) -> Void) {
        var inner = ProtobufWriter()
        build(&inner)
        lengthDelimited(field, inner.bytes)
    }

    /// A packed repeated float field: one key, the byte length (4 per value), the values' bits little-endian.
    mutating func packedFloats(_ field: Int, _ values: [Float]) {
        key(field, .lengthDelimited)
        varint(UInt64(values.count) * 4)
        bytes.reserveCapacity(bytes.count + values.count * 4)
        for v in values { appendLittleEndian(v) }
    }

    private mutating func appendLittleEndian(_ value: Float) {
        let b = value.bitPattern
        bytes += [UInt8(truncatingIfNeeded: b), UInt8(truncatingIfNeeded: b >> 8), UInt8(truncatingIfNeeded: b >> 16),
                  UInt8(truncatingIfNeeded: b >> 24)]
    }
}
