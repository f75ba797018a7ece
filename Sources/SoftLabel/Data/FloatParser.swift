/// Decimal text to the nearest `Float`, straight from bytes: the same answer as Swift's `Float(String)`.
///
/// Fast path (Clinger 1990): up to 19 digits go into a `UInt64` mantissa `m`, read 8 digits at a time; when
/// `m < 2^53` and `|e| <= 22`, `m` and `10^|e|` are exact Doubles, so one IEEE multiply or divide gives
/// `m · 10^e` correctly rounded to Double, and rounding that to Float is correct too unless it lands exactly
/// on a midpoint between two Floats. Division is slow, so we first multiply by the nearest Double to 10^-|e|
/// (within 2 ulps of the true value) and take the exact division only when that lands within a few ulps of
/// a midpoint. Everything else (more digits, larger exponents, hex, `inf`, `nan`) goes to `Float(Substring)`.
public enum FloatParser {
    /// The Float nearest to the number spelled by all of `bytes`, or nil when they are not a number.
    /// Like `Float(String)`: accepts `+1.5`, `.5`, `3.`, `1e+2`, `-2E-3`, hex, `inf`, `nan`; overflow gives ±inf.
    public static func parse(_ bytes: UnsafeBufferPointer<UInt8>) -> Float? {
        if bytes.count > 0 && bytes.count < 64 {
            // The scanner needs a terminating byte that cannot continue a number, and 8 readable bytes after it.
            var local = (UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0), UInt64(0),
                         UInt64(0), UInt64(0))
            let fast: Float? = withUnsafeMutableBytes(of: &local) { raw in
                let p = raw.bindMemory(to: UInt8.self).baseAddress!
                p.update(from: bytes.baseAddress!, count: bytes.count)
                p[bytes.count] = 0
                guard let (v, stop) = scanTerminated(UnsafePointer(p)), stop == p + bytes.count else { return nil }
                return v
            }
            if let fast { return fast }
        }
        return slow(bytes)
    }

    /// `Float(Substring)` on the bytes (the rare inputs the fast path leaves).
    static func slow(_ bytes: UnsafeBufferPointer<UInt8>) -> Float? {
        Float(Substring(decoding: bytes, as: UTF8.self))
    }

    /// Scans the longest decimal number starting at `start`; returns its value and where it stopped, or nil when
    /// the fast path does not apply (no digits, too many digits, a large exponent, a midpoint case).
    /// The bytes must be followed by one that cannot continue a number (`,`, a line end, or a 0 sentinel), and
    /// 8 readable bytes must follow every byte of the number (the digits are read 8 at a time).
    /// Values returned are always finite (at most ~1e38, at least ~1e-22 in magnitude, or ±0).
    @inline(__always)
    static func scanTerminated(_ start: UnsafePointer<UInt8>) -> (Float, UnsafePointer<UInt8>)? {
        var p = start
        let negative = p.pointee == UInt8(ascii: "-")
        if negative || p.pointee == UInt8(ascii: "+") { p += 1 }
        var m: UInt64 = 0
        let intDigits = eatDigits(&p, &m)
        var digits = intDigits
        var exponent = 0
        if p.pointee == UInt8(ascii: ".") {
            p += 1
            let fracDigits = eatDigits(&p, &m)
            digits += fracDigits
            exponent = -fracDigits
        }
        guard digits > 0 else { return nil }
        if p.pointee | 0x20 == UInt8(ascii: "e") {
            var q = p + 1
            let negativeExponent = q.pointee == UInt8(ascii: "-")
            if negativeExponent || q.pointee == UInt8(ascii: "+") { q += 1 }
            let expStart = q
            var e = 0
            while true {
                let d = q.pointee &- UInt8(ascii: "0")
                if d > 9 { break }
                if e < 100_000 { e = e * 10 + Int(d) }  // beyond this the value is 0 or inf anyway
                q += 1
            }
            if q == expStart { return nil }  // "1e" is not a number; let the caller decide
            exponent += negativeExponent ? -e : e
            p = q
        }
        // Leading zeros count here too: such rare inputs merely take the slow path.
        if digits > 19 { return nil }
        if m == 0 { return (negative ? -0.0 : 0.0, p) }
        if m >= 1 << 53 || exponent < -22 || exponent > 22 { return nil }
        // m · 10^e with one multiply: by 10^e (exact) or by the Double nearest 10^-|e| (relative error
        // <= 2^-53), so x is within 2 ulps of the true value. Unless x is within 8 ulps of a midpoint between two
        // Floats, the true value rounds to the same Float as x (midpoints are the only rounding boundaries).
        let x = Double(m) * (exponent < 0 ? inversePowerOfTen(-exponent) : powerOfTen(exponent))
        if (x.bitPattern & 0x1FFF_FFFF) &- (0x1000_0000 - 8) <= 16 {
            // Near a midpoint: Clinger's exact path (one correctly rounded IEEE operation), then the exact check.
            let exact = exponent < 0 ? Double(m) / powerOfTen(-exponent) : Double(m) * powerOfTen(exponent)
            if exact.bitPattern & 0x1FFF_FFFF == 0x1000_0000 { return nil }
            return (negative ? -Float(exact) : Float(exact), p)
        }
        let f = Float(x)
        return (negative ? -f : f, p)
    }

    /// Appends the digits at `p` to `m` (m ← m · 10^n + digits), 8 bytes at a time; returns n.
    /// A digit count over 19 overflows `m`; the caller checks the count.
    @inline(__always)
    static func eatDigits(_ p: inout UnsafePointer<UInt8>, _ m: inout UInt64) -> Int {
        var total = 0
        while true {
            let word = UInt64(littleEndian: UnsafeRawPointer(p).loadUnaligned(as: UInt64.self))
            // High bit of each byte that is not '0'...'9'. Carries and borrows only move upwards from a
            // non-digit, so the lowest flagged byte is the first non-digit (simdjson's test, per byte).
            let nonDigit = ((word &+ 0x4646_4646_4646_4646) | (word &- 0x3030_3030_3030_3030)) & 0x8080_8080_8080_8080
            let n = nonDigit.trailingZeroBitCount >> 3  // 0...8
            if n == 0 { return total }
            // The n digits moved to the top bytes, zeros below: an 8-digit number with leading zeros.
            var v = (word &- 0x3030_3030_3030_3030) << UInt64(64 - 8 * n)
            v = v &* 10 &+ (v >> 8)
            let mask: UInt64 = 0x0000_00FF_0000_00FF
            let mulHigh: UInt64 = 100 + (1_000_000 << 32), mulLow: UInt64 = 1 + (10_000 << 32)
            let high = (v & mask) &* mulHigh
            let low = ((v >> 16) & mask) &* mulLow
            v = (high &+ low) >> 32
            m = m &* integerPowerOfTen(n) &+ v
            p += n
            total += n
            if n < 8 { return total }
        }
    }

    @inline(__always)
    static func integerPowerOfTen(_ n: Int) -> UInt64 {
        switch n {
        case 1: return 10
        case 2: return 100
        case 3: return 1_000
        case 4: return 10_000
        case 5: return 100_000
        case 6: return 1_000_000
        case 7: return 10_000_000
        default: return 100_000_000
        }
    }

    /// The Double nearest 10^-k for k in 0...22.
    @inline(__always)
    static func inversePowerOfTen(_ k: Int) -> Double {
        switch k {
        case 0: return 1e-0
        case 1: return 1e-1
        case 2: return 1e-2
        case 3: return 1e-3
        case 4: return 1e-4
        case 5: return 1e-5
        case 6: return 1e-6
        case 7: return 1e-7
        case 8: return 1e-8
        case 9: return 1e-9
        case 10: return 1e-10
        case 11: return 1e-11
        case 12: return 1e-12
        case 13: return 1e-13
        case 14: return 1e-14
        case 15: return 1e-15
        case 16: return 1e-16
        case 17: return 1e-17
        case 18: return 1e-18
        case 19: return 1e-19
        case 20: return 1e-20
        case 21: return 1e-21
        default: return 1e-22
        }
    }

    /// 10^k for k in 0...22, all exact in Double (a switch the compiler turns into a constant table).
    @inline(__always)
    static func powerOfTen(_ k: Int) -> Double {
        switch k {
        case 0: return 1e0
        case 1: return 1e1
        case 2: return 1e2
        case 3: return 1e3
        case 4: return 1e4
        case 5: return 1e5
        case 6: return 1e6
        case 7: return 1e7
        case 8: return 1e8
        case 9: return 1e9
        case 10: return 1e10
        case 11: return 1e11
        case 12: return 1e12
        case 13: return 1e13
        case 14: return 1e14
        case 15: return 1e15
        case 16: return 1e16
        case 17: return 1e17
        case 18: return 1e18
        case 19: return 1e19
        case 20: return 1e20
        case 21: return 1e21
        default: return 1e22
        }
    }
}
