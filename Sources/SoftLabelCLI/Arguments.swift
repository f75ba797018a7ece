/// A command-line mistake: one line for the user, exit status 2.
public struct UsageError: Error, Equatable {
    public var message: String
    public init(_ message: String) { self.message = message }
}

/// One option of a subcommand, as shown in its help.
struct OptionSpec {
    var name: String          // "--epochs"
    var value: String?        // "N" for options that take a value; nil for flags
    var help: String
    var repeatable = false
}

/// A subcommand's interface: what it parses and what `--help` prints.
struct CommandSpec {
    var name: String
    var usage: [String]       // usage lines after "softlabel "
    var summary: String
    var positionals: [(name: String, help: String)]
    var options: [OptionSpec]
    var notes: [String] = []

    /// The `--help` text.
    var help: String {
        var lines = ["Usage:"]
        lines += usage.map { "  softlabel \($0)" }
        lines += ["", summary]
        if !positionals.isEmpty {
            lines += ["", "Arguments:"]
            let w = positionals.map(\.name.count).max()!
            lines += positionals.map { "  " + $0.name.padding(toLength: w, withPad: " ", startingAt: 0) + "  " + $0.help }
        }
        let all = options + [OptionSpec(name: "--help", value: nil, help: "Show this help and exit.")]
        let labels = all.map { o in o.value.map { v in "\(o.name) \(v)" } ?? o.name }
        let w = labels.map(\.count).max()!
        lines += ["", "Options:"]
        for (label, opt) in zip(labels, all) {
            lines.append("  " + label.padding(toLength: w, withPad: " ", startingAt: 0) + "  " + opt.help)
        }
        if !notes.isEmpty { lines += [""] + notes }
        return lines.joined(separator: "\n") + "\n"
    }

    /// Parses `args` (after the subcommand name). `--name value` and `--name=value` both work.
    func parse(_ args: [String]) throws -> ParsedArguments {
        var parsed = ParsedArguments(command: name)
        let byName = Dictionary(uniqueKeysWithValues: options.map { ($0.name, $0) })
        var i = 0
        var onlyPositionals = false
        while i < args.count {
            let arg = args[i]
            i += 1
            if onlyPositionals || !arg.hasPrefix("-") || arg == "-" {
                parsed.positionals.append(arg)
                continue
            }
            if arg == "--" { onlyPositionals = true; continue }
            if arg == "--help" || arg == "-h" { parsed.help = true; continue }
            if arg == "--version" { parsed.version = true; continue }
            var key = arg
            var inline: String?
            if let eq = arg.firstIndex(of: "=") {
                key = String(arg[..<eq])
                inline = String(arg[arg.index(after: eq)...])
            }
            guard let spec = byName[key] else {
                let known = options.map(\.name) + ["--help", "--version"]
                let hint = closest(to: key, among: known).map { "did you mean \($0)? " } ?? ""
                throw UsageError("unknown option '\(key)' (\(hint)see 'softlabel \(name) --help')")
            }
            if spec.value == nil {
                if inline != nil { throw UsageError("option '\(key)' takes no value") }
                parsed.flags.insert(key)
                continue
            }
            let value: String
            if let inline {
                value = inline
            } else {
                guard i < args.count else { throw UsageError("option '\(key)' needs a value (\(spec.value!))") }
                value = args[i]
                i += 1
            }
            if parsed.values[key] != nil && !spec.repeatable {
                throw UsageError("option '\(key)' is given more than once")
            }
            parsed.values[key, default: []].append(value)
        }
        return parsed
    }
}

/// The parsed command line, with typed getters that reject bad values by naming the flag.
struct ParsedArguments {
    var command: String
    var positionals: [String] = []
    var values: [String: [String]] = [:]
    var flags: Set<String> = []
    var help = false
    var version = false

    func flag(_ name: String) -> Bool { flags.contains(name) }
    func string(_ name: String) -> String? { values[name]?.last }
    func strings(_ name: String) -> [String] { values[name] ?? [] }

    func int(_ name: String, min lo: Int = .min, max hi: Int = .max) throws -> Int? {
        guard let s = string(name) else { return nil }
        guard let v = Int(s), v >= lo, v <= hi else {
            throw UsageError("\(name) expects an integer\(rangeText(lo, hi)), got '\(s)'")
        }
        return v
    }

    func float(_ name: String, min lo: Double = -.infinity, max hi: Double = .infinity,
               exclusiveMin: Bool = false) throws -> Double? {
        guard let s = string(name) else { return nil }
        guard let v = Double(s), v.isFinite, v >= lo, v <= hi, !(exclusiveMin && v == lo) else {
            let range = exclusiveMin ? " > \(fmt(lo))" + (hi.isFinite ? " and <= \(fmt(hi))" : "")
                : (lo.isFinite ? " >= \(fmt(lo))" : "") + (hi.isFinite ? (lo.isFinite ? " and" : "") + " <= \(fmt(hi))" : "")
            throw UsageError("\(name) expects a number\(range), got '\(s)'")
        }
        return v
    }

    /// One of T's cases by its name; any letter case is accepted when it names exactly one case ("Adam").
    func choice<T: RawRepresentable & CaseIterable>(_ name: String, _: T.Type) throws -> T? where T.RawValue == String {
        guard let s = string(name) else { return nil }
        if let v = T(rawValue: s) { return v }
        let folded = T.allCases.filter { $0.rawValue.lowercased() == s.lowercased() }
        if folded.count == 1 { return folded[0] }
        let allowed = T.allCases.map(\.rawValue).joined(separator: "|")
        let hint = closest(to: s, among: T.allCases.map(\.rawValue)).map { " (did you mean '\($0)'?)" } ?? ""
        throw UsageError("\(name) expects one of \(allowed), got '\(s)'\(hint)")
    }

    /// A comma-separated list of positive integers ("128,64").
    func intList(_ name: String) throws -> [Int]? {
        guard let s = string(name) else { return nil }
        let parts = s.split(separator: ",", omittingEmptySubsequences: false)
        let values = parts.compactMap { Int($0.trimmingCharacters(in: .whitespaces)) }
        guard values.count == parts.count, values.allSatisfy({ $0 > 0 }) else {
            throw UsageError("\(name) expects comma-separated positive integers like 128,64, got '\(s)'")
        }
        return values
    }

    /// Exactly `count` positionals, named in the error when not.
    func positionals(_ names: [String]) throws -> [String] {
        if positionals.count < names.count {
            throw UsageError("missing \(names[positionals.count]) (see 'softlabel \(command) --help')")
        }
        if positionals.count > names.count {
            throw UsageError("unexpected argument '\(positionals[names.count])'")
        }
        return positionals
    }
}

/// The candidate nearest to `word` by edit distance (letter case ignored), when it is near enough to be a
/// likely misspelling: at most 2 edits, and fewer than half the word's length.
func closest(to word: String, among candidates: [String]) -> String? {
    let w = Array(word.lowercased())
    var best: (name: String, distance: Int)?
    for c in candidates {
        let d = editDistance(w, Array(c.lowercased()))
        if d < (best?.distance ?? .max) { best = (c, d) }
    }
    guard let best, best.distance <= 2, best.distance * 2 < max(w.count, 2) else { return nil }
    return best.name
}

/// Edit distance counting insertions, deletions, substitutions and swaps of neighbours as 1 each (optimal
/// string alignment: "adma" is one swap from "adam").
private func editDistance(_ a: [Character], _ b: [Character]) -> Int {
    if a.isEmpty || b.isEmpty { return max(a.count, b.count) }
    var d = [[Int]](repeating: [Int](repeating: 0, count: b.count + 1), count: a.count + 1)
    for i in 0...a.count { d[i][0] = i }
    for j in 0...b.count { d[0][j] = j }
    for i in 1...a.count {
        for j in 1...b.count {
            d[i][j] = min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1))
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] { d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1) }
        }
    }
    return d[a.count][b.count]
}

private func rangeText(_ lo: Int, _ hi: Int) -> String {
    switch (lo == .min, hi == .max) {
    case (true, true): return ""
    case (false, true): return " >= \(lo)"
    case (true, false): return " <= \(hi)"
    case (false, false): return " in \(lo)...\(hi)"
    }
}

private func fmt(_ v: Double) -> String {
    v == v.rounded() && abs(v) < 1e15 ? String(Int(v)) : String(v)
}

import Foundation
