import Foundation

/// A JSON document built in code, written with keys in the order given (so reports have stable, readable
/// key order) and numbers in shortest round-trip form (so a Double reads back exactly).
public indirect enum JSONValue: Equatable, Sendable {
    case null
    case bool(Bool)
    case int(Int)
    /// A seed or other unsigned 64-bit integer, written exactly.
    case uint(UInt64)
    case number(Double)
    /// A Float in its own shortest round-trip form ("0.1", not the Double expansion 0.10000000149011612).
    case float(Float)
    case string(String)
    case array([JSONValue])
    case object([(String, JSONValue)])

    /// A number, or null when absent or not finite (JSON has no NaN or infinity).
    public static func number(_ v: Double?) -> JSONValue {
        guard let v, v.isFinite else { return .null }
        return .number(v)
    }

    /// One line: `{"a": 1, "b": [1, 2]}`.
    public var text: String {
        switch self {
        case .null: return "null"
        case .bool(let b): return b ? "true" : "false"
        case .int(let i): return String(i)
        case .uint(let u): return String(u)
        case .number(let d): return d.isFinite ? "\(d)" : "null"
        case .float(let f): return f.isFinite ? "\(f)" : "null"
        case .string(let s): return jsonString(s)
        case .array(let items): return "[" + items.map(\.text).joined(separator: ", ") + "]"
        case .object(let fields):
            return "{" + fields.map { jsonString($0.0) + ": " + $0.1.text }.joined(separator: ", ") + "}"
        }
    }

    public static func == (a: JSONValue, b: JSONValue) -> Bool { a.text == b.text }
}

/// A JSON string literal, with quotes, backslashes and control characters escaped.
public func jsonString(_ s: String) -> String {
    var out = "\""
    for u in s.unicodeScalars {
        switch u {
        case "\"": out += "\\\""
        case "\\": out += "\\\\"
        case "\n": out += "\\n"
        case "\r": out += "\\r"
        case "\t": out += "\\t"
        default:
            if u.value < 0x20 { out += String(format: "\\u%04x", u.value) } else { out.unicodeScalars.append(u) }
        }
    }
    return out + "\""
}
