import Foundation
import Testing
@testable import SoftLabel

/// The hand-written parser against Swift's own `Float(String)`, bit for bit, on many random values.
@Suite struct FloatParserTests {
    func parse(_ s: String) -> Float? {
        var bytes = Array(s.utf8)
        return bytes.withUnsafeMutableBufferPointer { FloatParser.parse(UnsafeBufferPointer($0)) }
    }

    /// Same bits, or both NaN, or both nil.
    func agrees(_ s: String) -> Bool {
        let a = parse(s), b = Float(s)
        switch (a, b) {
        case (nil, nil): return true
        case let (x?, y?): return x.bitPattern == y.bitPattern || (x.isNaN && y.isNaN)
        default: return false
        }
    }

    @Test func usualFormsAndEdges() {
        let cases = ["+1.5", ".5", "3.", "1e+2", "-2E-3", "-0.0", "0", "00012", "1e39", "-1e39", "1e-50", "nan", "inf",
                     "-infinity", "0x1p-3", "3.4028235e38", "3.4028236e38", "1.17549435e-38", "1.4e-45", "7e-46",
                     "16777217", "16777219", "0.1", "-0.1234567", "9007199254740993", "1e22", "1e23", "1e-22",
                     "123456789012345678901234567890", "0.000000000000000000000000000001", "", ".", "-", "e5", "1e",
                     "1e+", "+-1", "1.5e", " 1", "1 ", "1,5", "1..2", "--1", "0x", "1_000"]
        for s in cases { #expect(agrees(s), "\(s): \(String(describing: parse(s))) vs \(String(describing: Float(s)))") }
        #expect(parse("-0.0")?.sign == .minus)
    }

    /// Every Float printed shortest (its `description`), with 9 and 12 significant digits, and as a Double.
    @Test func randomBitPatterns() {
        var rng = SplitMix64(seed: 42)
        var failures: [String] = []
        for i in 0..<300_000 {
            let f = Float(bitPattern: UInt32(truncatingIfNeeded: rng.next()))
            if f.isNaN { continue }
            var texts = [f.description, Double(f).description]
            if i % 10 == 0 { texts += [String(format: "%.8e", Double(f)), String(format: "%.11E", Double(f))] }
            for s in texts where !agrees(s) { failures.append(s) }
        }
        #expect(failures.isEmpty, "\(failures.prefix(10))")
    }

    /// Random decimal strings: 1 to 25 digits, a point anywhere (or none), signs, exponents near and far.
    @Test func randomDecimalStrings() {
        var rng = SplitMix64(seed: 7)
        var failures: [String] = []
        func pick(_ n: Int) -> Int { Int(rng.next() % UInt64(n)) }
        for _ in 0..<300_000 {
            let digits = 1 + pick(25)
            var s = ["", "-", "+"][pick(3)]
            var body = (0..<digits).map { _ in String(pick(10)) }.joined()
            switch pick(4) {
            case 0: break
            case 1: body.insert(".", at: body.index(body.startIndex, offsetBy: pick(digits + 1)))
            case 2: body = "0." + String(repeating: "0", count: pick(12)) + body
            default: body += "."
            }
            s += body
            if pick(2) == 0 {
                s += (pick(2) == 0 ? "e" : "E") + ["", "-", "+"][pick(3)] + String(pick(3) == 0 ? pick(60) : pick(23))
            }
            if !agrees(s) { failures.append(s) }
        }
        #expect(failures.isEmpty, "\(failures.prefix(10))")
    }

    /// Decimal strings at and next to the midpoint between two neighbouring Floats, where rounding through a
    /// Double could go wrong: the exact midpoint (ties to even), and 9 to 25 digits of it (either side).
    @Test func midpointsBetweenFloats() {
        var rng = SplitMix64(seed: 3)
        var failures: [String] = []
        for _ in 0..<50_000 {
            let f = Float(bitPattern: UInt32(truncatingIfNeeded: rng.next()) & 0x7F7F_FFFF)
            guard f.isFinite, f.nextUp.isFinite else { continue }
            let mid = (Double(f) + Double(f.nextUp)) / 2  // exact in Double
            let exact = String(format: "%.60e", mid)
            var texts = [exact]
            for digits in [9, 12, 16, 17, 18, 19, 20, 25] { texts.append(String(format: "%.\(digits - 1)e", mid)) }
            for s in texts where !agrees(s) { failures.append(s) }
        }
        #expect(failures.isEmpty, "\(failures.prefix(10))")
    }
}
