import Foundation

/// The cell separator of a CSV file: commas, or the semicolons and tabs that German-locale Excel and
/// `pandas.to_csv(sep="\t")` write, or pipes.
public enum CSVDelimiter {
    /// The separators `detect` considers, in the order that breaks ties.
    public static let candidates: [UInt8] = [UInt8(ascii: ","), UInt8(ascii: ";"), 0x09, UInt8(ascii: "|")]

    /// The separator of the header line (from `offset`, after a BOM): the candidate occurring most often
    /// outside quotes, a comma on ties or when there is none (a one-column header is an error later).
    static func detect(_ input: InputFile, from offset: Int) throws -> UInt8 {
        // The header line may be long (thousands of features): read until its end, at most 16 MB.
        var counts = [Int](repeating: 0, count: candidates.count)
        var inQuotes = false
        var position = offset
        let block = 1 << 16
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: block, alignment: 16)
        defer { buffer.deallocate() }
        scan: while position < min(input.size, offset + (16 << 20)) {
            let got = try input.read(into: buffer, count: block, at: position)
            if got == 0 { break }
            let bytes = buffer.assumingMemoryBound(to: UInt8.self)
            for i in 0..<got {
                let b = bytes[i]
                if b == UInt8(ascii: "\"") {
                    inQuotes.toggle()
                } else if !inQuotes {
                    if b == 0x0A || b == 0x0D { break scan }
                    if let c = candidates.firstIndex(of: b) { counts[c] += 1 }
                }
            }
            position += got
        }
        let best = counts.indices.max { counts[$0] < counts[$1] || (counts[$0] == counts[$1] && $0 > $1) }!
        return counts[best] > 0 ? candidates[best] : candidates[0]
    }

    /// "comma", "semicolon", "tab", "'|'" for messages.
    public static func name(_ d: UInt8) -> String {
        switch d {
        case UInt8(ascii: ","): return "comma"
        case UInt8(ascii: ";"): return "semicolon"
        case 0x09: return "tab"
        default: return "'\(Character(Unicode.Scalar(d)))'"
        }
    }

    /// "','", "';'", "a tab", "'|'": the character itself, for "expected ..." messages.
    static func quoted(_ d: UInt8) -> String { d == 0x09 ? "a tab" : "'\(Character(Unicode.Scalar(d)))'" }

    /// How `--delimiter` spells it.
    public static func flag(_ d: UInt8) -> String {
        switch d {
        case 0x09: return "tab"
        case UInt8(ascii: ";"): return "';'"
        case UInt8(ascii: "|"): return "'|'"
        default: return String(Character(Unicode.Scalar(d)))
        }
    }
}
