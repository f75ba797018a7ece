/// Gives each distinct byte string a dense code 0, 1, 2, ... in order of first appearance, without making a
/// `String` per lookup: keys live once in one byte arena, looked up by an open-addressing hash table.
struct Interner {
    private var arena: [UInt8] = []       // every key's bytes, back to back
    private var offsets: [Int] = [0]      // (count + 1): key c is arena[offsets[c]..<offsets[c + 1]]
    private var hashes: [UInt64] = []     // (count)
    private var slots: [Int32]            // (capacity) a code, or -1 for an empty slot; capacity a power of 2
    private var mask: Int

    init(capacity: Int = 1024) {
        var c = 16
        while c < capacity * 2 { c <<= 1 }
        slots = [Int32](repeating: -1, count: c)
        mask = c - 1
    }

    var count: Int { hashes.count }

    /// FNV-1a, 64-bit: short keys (ids of a few bytes) are its strength.
    @inline(__always)
    private static func hash(_ key: UnsafeBufferPointer<UInt8>) -> UInt64 {
        var h: UInt64 = 0xCBF2_9CE4_8422_2325
        for b in key { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        return h ^ (h >> 29)
    }

    /// The code of `key`, and whether it was new (added by this call).
    mutating func code(of key: UnsafeBufferPointer<UInt8>) -> (code: Int32, new: Bool) {
        let h = Interner.hash(key)
        var s = Int(truncatingIfNeeded: h) & mask
        while true {
            let c = slots[s]
            if c < 0 { break }
            if hashes[Int(c)] == h && equal(Int(c), key) { return (c, false) }
            s = (s + 1) & mask
        }
        let c = Int32(count)
        slots[s] = c
        hashes.append(h)
        arena.append(contentsOf: key)
        offsets.append(arena.count)
        if count * 2 > slots.count { grow() }
        return (c, true)
    }

    private func equal(_ c: Int, _ key: UnsafeBufferPointer<UInt8>) -> Bool {
        let start = offsets[c], end = offsets[c + 1]
        guard end - start == key.count else { return false }
        return arena.withUnsafeBufferPointer { a in
            key.count == 0 || memcmp(a.baseAddress! + start, key.baseAddress!, key.count) == 0
        }
    }

    private mutating func grow() {
        let capacity = slots.count * 2
        slots = [Int32](repeating: -1, count: capacity)
        mask = capacity - 1
        for (c, h) in hashes.enumerated() {
            var s = Int(truncatingIfNeeded: h) & mask
            while slots[s] >= 0 { s = (s + 1) & mask }
            slots[s] = Int32(c)
        }
    }

    /// Every key as a String, by code (the caller has checked each is valid UTF-8).
    func strings() -> [String] {
        arena.withUnsafeBufferPointer { a in
            (0..<count).map { String(decoding: UnsafeBufferPointer(rebasing: a[offsets[$0]..<offsets[$0 + 1]]), as: UTF8.self) }
        }
    }
}

import Foundation
