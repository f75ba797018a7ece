/// Decoding that takes a default for every missing key, with no hand-written line per key.
///
/// `T(from: DefaultingDecoder(base, defaults: T()))` runs T's synthesised `init(from:)`; when it asks for a
/// key the data lacks, the value comes from the same-named stored property of `defaults` (found by
/// reflection: synthesised coding keys are the property names). So a model file written before a setting
/// existed decodes with today's default for it, and a new setting needs no decoder code at all.
struct DefaultingDecoder<Defaults>: Decoder {
    let base: Decoder
    let defaults: Defaults

    var codingPath: [CodingKey] { base.codingPath }
    var userInfo: [CodingUserInfoKey: Any] { base.userInfo }

    func container<Key: CodingKey>(keyedBy type: Key.Type) throws -> KeyedDecodingContainer<Key> {
        KeyedDecodingContainer(Container(base: try base.container(keyedBy: type), defaults: defaults))
    }

    func unkeyedContainer() throws -> UnkeyedDecodingContainer { try base.unkeyedContainer() }
    func singleValueContainer() throws -> SingleValueDecodingContainer { try base.singleValueContainer() }

    private struct Container<Key: CodingKey>: KeyedDecodingContainerProtocol {
        let base: KeyedDecodingContainer<Key>
        let defaults: Defaults

        var codingPath: [CodingKey] { base.codingPath }
        var allKeys: [Key] { base.allKeys }
        func contains(_ key: Key) -> Bool { base.contains(key) || fallback(key) != nil }

        private func fallback(_ key: Key) -> Any? {
            Mirror(reflecting: defaults).children.first { $0.label == key.stringValue }?.value
        }

        /// A missing key whose default is an optional without a value reads as null.
        func decodeNil(forKey key: Key) throws -> Bool {
            if base.contains(key) { return try base.decodeNil(forKey: key) }
            guard let value = fallback(key) else { return true }
            let mirror = Mirror(reflecting: value)
            return mirror.displayStyle == .optional && mirror.children.isEmpty
        }

        func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T { try decode(type, key) }

        func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try decode(type, key) }
        func decode(_ type: String.Type, forKey key: Key) throws -> String { try decode(type, key) }
        func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try decode(type, key) }
        func decode(_ type: Float.Type, forKey key: Key) throws -> Float { try decode(type, key) }
        func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try decode(type, key) }
        func decode(_ type: Int8.Type, forKey key: Key) throws -> Int8 { try decode(type, key) }
        func decode(_ type: Int16.Type, forKey key: Key) throws -> Int16 { try decode(type, key) }
        func decode(_ type: Int32.Type, forKey key: Key) throws -> Int32 { try decode(type, key) }
        func decode(_ type: Int64.Type, forKey key: Key) throws -> Int64 { try decode(type, key) }
        func decode(_ type: UInt.Type, forKey key: Key) throws -> UInt { try decode(type, key) }
        func decode(_ type: UInt8.Type, forKey key: Key) throws -> UInt8 { try decode(type, key) }
        func decode(_ type: UInt16.Type, forKey key: Key) throws -> UInt16 { try decode(type, key) }
        func decode(_ type: UInt32.Type, forKey key: Key) throws -> UInt32 { try decode(type, key) }
        func decode(_ type: UInt64.Type, forKey key: Key) throws -> UInt64 { try decode(type, key) }

        private func decode<T: Decodable>(_ type: T.Type, _ key: Key) throws -> T {
            if base.contains(key) { return try base.decode(type, forKey: key) }
            if let value = fallback(key) as? T { return value }
            return try base.decode(type, forKey: key)  // no default: the decoder's own "missing key" error
        }

        func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key) throws
            -> KeyedDecodingContainer<NestedKey> {
            try base.nestedContainer(keyedBy: type, forKey: key)
        }
        func nestedUnkeyedContainer(forKey key: Key) throws -> UnkeyedDecodingContainer {
            try base.nestedUnkeyedContainer(forKey: key)
        }
        func superDecoder() throws -> Decoder { try base.superDecoder() }
        func superDecoder(forKey key: Key) throws -> Decoder { try base.superDecoder(forKey: key) }
    }
}
