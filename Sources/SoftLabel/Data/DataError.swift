/// What is wrong with an input file, with what a person needs to find and fix it.
public struct DataError: Error, Equatable, CustomStringConvertible, Sendable {
    public var file: String
    public var line: Int?     // 1-based line in a text file (or row in an NPY file)
    public var column: String?  // the column's header name, when one applies
    public var message: String  // what was found and what was expected

    public init(file: String, line: Int? = nil, column: String? = nil, _ message: String) {
        self.file = file
        self.line = line
        self.column = column
        self.message = message
    }

    /// `file:line: column 'name': message`, one line.
    public var description: String {
        var s = file
        if let line { s += ":\(line)" }
        s += ": "
        if let column { s += "column '\(column)': " }
        return s + message
    }
}
