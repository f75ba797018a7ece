/// What is wrong with an input file, with what a person needs to find and fix it.
///
/// Every message is one line: the file name, the column and the message are stored with control
/// characters escaped (`escapingControlCharacters`), so text quoted from a hostile file (a CR, a VT, an
/// ANSI escape sequence in a cell) cannot break the line or drive the terminal.
public struct DataError: Error, Equatable, CustomStringConvertible, Sendable {
    public var file: String
    public var line: Int?       // 1-based line in a text file
    public var row: Int?        // 0-based row of an NPY array (numpy's own index)
    public var column: String?  // the column's header name (or feature/class name), when one applies
    public var message: String  // what was found and what was expected

    public init(file: String, line: Int? = nil, row: Int? = nil, column: String? = nil, _ message: String) {
        self.file = escapingControlCharacters(file)
        self.line = line
        self.row = row
        self.column = column.map(escapingControlCharacters)
        self.message = escapingControlCharacters(message)
    }

    /// `file:line: column 'name': message`, or `file: row R, column 'name': message` for NPY; one line.
    public var description: String {
        var s = file
        if let line { s += ":\(line)" }
        s += ": "
        if let row { s += "row \(row)" + (column == nil ? ": " : ", ") }
        if let column { s += "column '\(column)': " }
        // Escaped again: the fields are public and may have been changed after init (escaping is idempotent).
        return escapingControlCharacters(s + message)
    }
}

/// `text` with every character that could break a one-line message or act on a terminal written as an
/// escape: `\n`, `\r`, `\t`, `\0`, and `\u{XX}` for the other controls. Escaped are the C0 and C1 control
/// characters and DEL (Unicode category Cc: a VT, a form feed, ESC of an ANSI sequence, NEL), the line and
/// paragraph separators U+2028/U+2029, and the bidirectional overrides and isolates (U+200E, U+200F,
/// U+202A-U+202E, U+2066-U+2069), which reorder what a terminal shows. A backslash itself is left alone, so
/// escaping twice changes nothing. Every reader's messages go through this (via `DataError`).
public func escapingControlCharacters(_ text: String) -> String {
    func needsEscape(_ u: Unicode.Scalar) -> Bool {
        switch u.value {
        case 0x00...0x1F, 0x7F...0x9F, 0x2028, 0x2029, 0x200E, 0x200F, 0x202A...0x202E, 0x2066...0x2069: return true
        default: return false
        }
    }
    guard text.unicodeScalars.contains(where: needsEscape) else { return text }
    var out = String.UnicodeScalarView()
    for u in text.unicodeScalars {
        guard needsEscape(u) else {
            out.append(u)
            continue
        }
        let escape: String
        switch u {
        case "\n": escape = "\\n"
        case "\r": escape = "\\r"
        case "\t": escape = "\\t"
        case "\0": escape = "\\0"
        default:
            let hex = String(u.value, radix: 16, uppercase: true)
            escape = "\\u{" + String(repeating: "0", count: max(0, 2 - hex.count)) + hex + "}"
        }
        out.append(contentsOf: escape.unicodeScalars)
    }
    return String(out)
}
