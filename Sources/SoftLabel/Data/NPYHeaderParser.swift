import Foundation

/// The Python dict literal of an NPY header: `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }`.
struct NPYHeaderParser {
    enum Value: Equatable { case string(String), bool(Bool), tuple([Int]), other }

    let text: [Character]
    let file: String
    var i = 0

    init(text: String, file: String) {
        self.text = Array(text)
        self.file = file
    }

    mutating func parse() throws -> [String: Value] {
        var out: [String: Value] = [:]
        skipSpaces()
        try expect("{")
        while true {
            skipSpaces()
            if peek == "}" {
                // numpy pads the header with spaces and ends it with a line break; anything else after the
                // dict is a damaged file (numpy refuses it too).
                i += 1
                skipSpaces()
                if i < text.count { throw bad("only spaces after the header's '}'") }
                return out
            }
            guard case .string(let key) = try value() else { throw bad("a quoted key") }
            skipSpaces()
            try expect(":")
            skipSpaces()
            out[key] = try value()
            skipSpaces()
            if peek == "," { i += 1 }
        }
    }

    private var peek: Character? { i < text.count ? text[i] : nil }
    private mutating func skipSpaces() { while let c = peek, c.isWhitespace { i += 1 } }
    private mutating func expect(_ c: Character) throws {
        guard peek == c else { throw bad("'\(c)'") }
        i += 1
    }
    private func bad(_ what: String) -> DataError {
        DataError(file: file, "has a malformed NPY header (expected \(what) at character \(i))")
    }

    private mutating func value() throws -> Value {
        guard let c = peek else { throw bad("a value") }
        switch c {
        case "'", "\"":
            i += 1
            let start = i
            while let d = peek, d != c { i += 1 }
            try expect(c)
            return .string(String(text[start..<(i - 1)]))
        case "(":
            i += 1
            var items: [Int] = []
            while true {
                skipSpaces()
                if peek == ")" { i += 1; return .tuple(items) }
                let start = i
                while let d = peek, d.isASCII && d.isNumber { i += 1 }
                guard i > start else { throw bad("a non-negative integer in the shape") }
                guard let n = Int(String(text[start..<i])) else {
                    throw DataError(file: file, "has an NPY shape dimension of \(i - start) digits, too large for any array")
                }
                items.append(n)
                if peek == "L" { i += 1 }  // Python 2 long
                skipSpaces()
                if peek == "," { i += 1 }
            }
        case "[", "{":
            var depth = 0
            repeat {
                if peek == "[" || peek == "{" || peek == "(" { depth += 1 }
                if peek == "]" || peek == "}" || peek == ")" { depth -= 1 }
                i += 1
            } while depth > 0 && i < text.count
            return .other
        default:
            let start = i
            while let d = peek, d.isLetter { i += 1 }
            switch String(text[start..<i]) {
            case "True": return .bool(true)
            case "False": return .bool(false)
            default: throw bad("a value")
            }
        }
    }
}
