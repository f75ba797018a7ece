/// What is wrong with an input file, with what a person needs to find and fix it.
public struct DataError: Error, Equatable, CustomStringConvertible, Sendable {
    public var file: String
    public var line: Int?       // 1-based line in a text file
    public var row: Int?        // 0-based row of an NPY array (numpy's own index)
    public var column: String?  // the column's header name (or feature/class name), when one applies
    public var message: String  // what was found and what was expected

    public init(file: String, line: Int? = nil, row: Int? = nil, column: String? = nil, _ message: String) {
        self.file = file
        self.line = line
        self.row = row
        self.column = column
        self.message = message
    }

    /// `file:line: column 'name': message`, or `file: row R, column 'name': message` for NPY; one line.
    public var description: String {
        var s = file
        if let line { s += ":\(line)" }
        s += ": "
        if let row { s += "row \(row)" + (column == nil ? ": " : ", ") }
        if let column { s += "column '\(column)': " }
        return s + message
    }
}
