import Foundation

/// How much memory a command may fill with data before it streams instead: `--memory SIZE`, or by default
/// half of the memory this process can have, the smaller of the physical memory and the memory cgroup's
/// limit (cgroup v2 `memory.max` or v1 `memory.limit_in_bytes`, of this process's group and every group
/// above it).
///
/// Data "fits" when its size widened to Float does (`need(rows:features:classes:)`), whatever its stored
/// type, so a float16 file and a float32 file of the same values take the same path and train the same bytes.
public struct MemoryBudget: Equatable, Sendable {
    public var bytes: Int
    /// Why the budget is what it is, for the note that says streaming was chosen.
    public var origin: String

    public init(bytes: Int, origin: String) {
        self.bytes = bytes
        self.origin = origin
    }

    /// The share of the available memory the default budget is: the rest stays for the model, the
    /// workspace, the page cache and everything else on the machine.
    public static let defaultShare = 0.5

    /// The default budget of this process.
    public static func automatic() -> MemoryBudget {
        let physical = physicalMemory
        if let limit = cgroupLimit, limit < physical {
            return MemoryBudget(bytes: Int(Double(limit) * defaultShare),
                                origin: "half of the memory cgroup's limit of \(format(limit))")
        }
        return MemoryBudget(bytes: Int(Double(physical) * defaultShare), origin: "half of the \(format(physical)) of memory")
    }

    /// The bytes of Float data a data set of this shape holds in memory: its features and its targets
    /// (rows × (features + 2 × classes) × 4; classes at least 2). The decision rests on this, never on the
    /// stored type.
    public static func need(rows: Int, features: Int, classes: Int) -> Int {
        let (a, o1) = rows.multipliedReportingOverflow(by: features + 2 * max(classes, 2))
        let (b, o2) = a.multipliedReportingOverflow(by: 4)
        return o1 || o2 ? .max : b
    }

    /// Whether `bytes` of data fit.
    public func fits(_ bytes: Int) -> Bool { bytes <= self.bytes }

    /// A size such as `2G`, `512M`, `1.5G`, `100K`, `4096` (bytes); K, M, G and T are powers of 1024, with or
    /// without a trailing `B` or `iB`, any letter case. nil when the text is not one.
    public static func parse(_ text: String) -> Int? {
        var s = text.trimmingCharacters(in: .whitespaces).uppercased()
        if s.hasSuffix("IB") { s.removeLast(2) } else if s.hasSuffix("B") { s.removeLast() }
        var scale = 1.0
        if let last = s.last, let power = ["K": 1, "M": 2, "G": 3, "T": 4][String(last)] {
            scale = pow(1024, Double(power))
            s.removeLast()
        }
        guard !s.isEmpty, s.allSatisfy({ $0.isNumber || $0 == "." }), let v = Double(s), v.isFinite else { return nil }
        let bytes = v * scale
        guard bytes >= 1, bytes < 9e18 else { return nil }
        return Int(bytes)
    }

    /// `bytes` for people: "1.5 GiB", "512 MiB".
    public static func format(_ bytes: Int) -> String {
        let units = ["bytes", "KiB", "MiB", "GiB", "TiB"]
        var v = Double(bytes), u = 0
        while v >= 1024 && u < units.count - 1 {
            v /= 1024
            u += 1
        }
        if u == 0 { return "\(bytes) bytes" }
        return (v >= 100 || v == v.rounded() ? String(format: "%.0f", v) : String(format: "%.1f", v)) + " " + units[u]
    }

    /// The memory this process can have: the machine's, or its memory cgroup's limit when that is smaller.
    public static var available: Int {
        let physical = physicalMemory
        return min(physical, cgroupLimit ?? physical)
    }

    /// Physical memory of the machine.
    public static var physicalMemory: Int {
        Int(sysconf(Int32(_SC_PHYS_PAGES))) * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// The smallest memory limit of this process's cgroup and its ancestors (v2, then v1); nil when none.
    public static var cgroupLimit: Int? {
        guard let text = try? String(contentsOfFile: "/proc/self/cgroup", encoding: .utf8) else { return nil }
        return cgroupLimit(procSelfCgroup: text, root: "/sys/fs/cgroup") { path in
            try? String(contentsOfFile: path, encoding: .utf8)
        }
    }

    /// The limit from the text of /proc/self/cgroup, reading limit files under `root` through `read`.
    static func cgroupLimit(procSelfCgroup text: String, root: String, read: (String) -> String?) -> Int? {
        var best: Int?
        func consider(_ file: String) {
            guard let raw = read(file)?.trimmingCharacters(in: .whitespacesAndNewlines), let v = Int(raw),
                  v > 0, v < 1 << 60 else { return }  // "max" (v2) or ~2^63 (v1): no limit
            best = min(best ?? .max, v)
        }
        func ancestors(_ path: String) -> [String] {
            var out: [String] = []
            var p = path
            while true {
                out.append(p)
                if p == "/" || p.isEmpty { break }
                p = (p as NSString).deletingLastPathComponent
            }
            return out
        }
        for line in text.split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 2, omittingEmptySubsequences: false)
            guard parts.count == 3 else { continue }
            let path = String(parts[2])
            if parts[0] == "0" && parts[1].isEmpty {
                for p in ancestors(path) { consider(root + (p == "/" ? "" : p) + "/memory.max") }
            } else if parts[1].split(separator: ",").contains("memory") {
                for p in ancestors(path) { consider(root + "/memory" + (p == "/" ? "" : p) + "/memory.limit_in_bytes") }
            }
        }
        return best
    }
}
