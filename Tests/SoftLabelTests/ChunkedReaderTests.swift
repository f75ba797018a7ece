import Foundation
import Testing
import TestSupport
@testable import SoftLabel

/// Data read a chunk at a time is the data read whole: CSV (with and without quotes, soft and hard labels,
/// teacher logits) and NPY (shards, float16, ids); the memory budget's sizes and cgroup limits.
@Suite struct ChunkedReaderTests {
    /// Every chunk of `reader`, concatenated.
    static func all(_ reader: ChunkedReader) throws -> (ids: [String], x: [Float], t: [Float]?, z: [Float]?, hard: [Int]?) {
        var ids: [String] = [], x: [Float] = []
        var t: [Float]?, z: [Float]?, hard: [Int]?
        var expected = 0
        while let c = try reader.next() {
            #expect(c.firstRow == expected)
            expected += c.count
            ids += c.ids
            x += c.features.values
            if let v = c.targets?.values { t = (t ?? []) + v }
            if let v = c.logits?.values { z = (z ?? []) + v }
            if let v = c.hard { hard = (hard ?? []) + v }
        }
        return (ids, x, t, z, hard)
    }

    static func csvText(quoted: Bool, rows: Int = 53) -> String {
        var g = TestData(seed: 2)
        var text = "id,f0,\"f1\",label:a,label:b,label:c\n"
        for i in 0..<rows {
            let id = quoted && i % 7 == 0 ? "\"r,\(i)\"" : "r\(i)"
            let x = (0..<2).map { _ in String(Float(g.rng.nextGaussian())) }
            let y = (0..<3).map { _ in String(Int(g.rng.nextUnit() * 4)) + (i % 5 == 0 ? "" : ".5") }
            text += ([id] + x + y).joined(separator: ",") + "\n"
            if i % 11 == 0 { text += "\n" }
        }
        return text
    }

    @Test(arguments: [false, true])
    func csvChunksAreTheWholeFile(_ quoted: Bool) throws {
        let path = temporaryFile(Self.csvText(quoted: quoted))
        let whole = try CSVReader.read(path: path, classes: ["c", "a", "b"]).dataset
        for group in [1, 5, 64, 100_000] {
            let reader = try CSVChunkedReader(path: path, classes: ["c", "a", "b"], labels: .required, threads: 3,
                                              rowsPerGroup: group)
            let got = try Self.all(reader)
            #expect(got.ids == whole.ids && got.x == whole.features.values && got.t == whole.targets.values, "group \(group)")
            #expect(reader.warnings.count == 1 && reader.warnings[0].contains("label row(s)"))
        }
    }

    /// Hard labels keep their class across groups (tables live on); teacher logits give softmax(z) and z.
    @Test func csvHardLabelsAndLogits() throws {
        var text = "x,label\n"
        for i in 0..<40 { text += "\(i),\(["dog", "cat", "eel"][(i * 7) % 3])\n" }
        let path = temporaryFile(text)
        let whole = try CSVReader.read(path: path, classes: ["eel", "dog", "cat"]).dataset
        let reader = try CSVChunkedReader(path: path, classes: ["eel", "dog", "cat"], labels: .required, threads: 2, rowsPerGroup: 3)
        let got = try Self.all(reader)
        #expect(got.t == whole.targets.values && got.x == whole.features.values)

        var logits = "x,logit:a,logit:b,label\n"
        for i in 0..<30 { logits += "\(i),\(Float(i) / 7),\(-Float(i) / 3),\(i % 2 == 0 ? "a" : "b")\n" }
        let lpath = temporaryFile(logits)
        let wholeL = try CSVReader.read(path: lpath).dataset
        let got2 = try Self.all(try CSVChunkedReader(path: lpath, classes: nil, labels: .required, threads: 2, rowsPerGroup: 4))
        #expect(got2.z == wholeL.teacherLogits!.values && got2.t == wholeL.targets.values && got2.hard == wholeL.hardLabels)
    }

    /// An error in a later group names its line, as when the file is read whole.
    @Test func csvErrorsAreLocated() throws {
        var text = "f0,label:a,label:b\n"
        for i in 0..<30 { text += "\(i),1,\(i == 23 ? "-2" : "1")\n" }
        let path = temporaryFile(text)
        let whole: String
        do { _ = try CSVReader.read(path: path); whole = "no error" } catch { whole = "\(error)" }
        var chunked = "no error"
        do { _ = try Self.all(try CSVChunkedReader(path: path, classes: nil, labels: .required, threads: 2, rowsPerGroup: 5)) }
        catch { chunked = "\(error)" }
        #expect(whole == chunked && whole.contains(":25: column 'label:b': negative label value"))
    }

    /// NPY in chunks: float16 shards and class indices, ids from a file with CRLF and no final line break.
    @Test func npyChunksAreTheWholeArray() throws {
        let dir = NSTemporaryDirectory() + "softlabel-chunks-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
        var g = TestData(seed: 4)
        let n = 700, d = 5
        let x = g.matrix(n, d).values.map { Float(Float16($0)) }
        let y = (0..<n).map { Float(($0 * 5) % 3) }
        for (i, r) in [0..<300, 300..<301, 301..<700].enumerated() {
            let w = try NPYWriter(path: dir + "/x-\(i).npy", element: .float16, rows: r.count, columns: d)
            try x.withUnsafeBufferPointer { try w.append($0.baseAddress! + r.lowerBound * d, rows: r.count) }
            try w.commit()
        }
        let yw = try NPYWriter(path: dir + "/y.npy", element: .int64, rows: n, columns: nil)
        try y.withUnsafeBufferPointer { try yw.append($0.baseAddress!, rows: n) }
        try yw.commit()
        try (0..<n).map { "id \($0)" }.joined(separator: "\r\n").write(toFile: dir + "/ids.txt", atomically: true, encoding: .utf8)
        let spec = NPYSource(features: dir + "/x-*.npy", labels: dir + "/y.npy")
        let whole = try NPYReader.read(spec).dataset
        #expect(whole.features.values == x)
        let reader = try NPYChunkedReader(try StreamingSource(spec), ids: try IdList(spec: dir + "/ids.txt"),
                                          parallel: Parallel(threads: 3), rowsPerChunk: 129)
        let got = try Self.all(reader)
        #expect(got.x == x && got.t == whole.targets.values && got.ids == (0..<n).map { "id \($0)" })
        #expect(throws: DataError.self) {
            _ = try NPYChunkedReader(try StreamingSource(spec), ids: try IdList(spec: dir + "/x-1.npy"), parallel: Parallel(threads: 1))
        }
    }

    @Test func budgetSizesParse() {
        #expect(MemoryBudget.parse("2G") == 2 << 30 && MemoryBudget.parse("512m") == 512 << 20)
        #expect(MemoryBudget.parse("1.5GiB") == 3 << 29 && MemoryBudget.parse("100KB") == 102_400)
        #expect(MemoryBudget.parse("4096") == 4096 && MemoryBudget.parse(" 1T ") == 1 << 40)
        for bad in ["", "G", "-1G", "2X", "1e3", "0", "0.5", "inf", "2 G B"] { #expect(MemoryBudget.parse(bad) == nil, "\(bad)") }
        #expect(MemoryBudget.format(3 << 29) == "1.5 GiB" && MemoryBudget.format(512 << 20) == "512 MiB")
        // 1,500,000 x 1,024 with 10 classes: 6.3 GB as Float, whatever the stored type.
        #expect(MemoryBudget.need(rows: 1_500_000, features: 1024, classes: 10) == 1_500_000 * 1044 * 4)
        #expect(MemoryBudget.need(rows: Int.max / 2, features: 1024, classes: 10) == .max)
    }

    /// The smallest limit of this process's group and its ancestors, in cgroup v1 and v2 layouts; "max" and
    /// v1's huge "unlimited" value are no limit.
    @Test func cgroupLimitsAreRead() {
        let files = [
            "/cg/memory/memory.limit_in_bytes": "9223372036854771712\n",
            "/cg/memory/jobs/memory.limit_in_bytes": "4294967296\n",
            "/cg/memory/jobs/run1/memory.limit_in_bytes": "2147483648\n",
            "/cg/memory.max": "max\n",
            "/cg/user.slice/memory.max": "8589934592\n",
            "/cg/user.slice/session/memory.max": "max\n",
        ]
        let v1 = MemoryBudget.cgroupLimit(procSelfCgroup: "12:cpu,cpuacct:/jobs\n4:memory:/jobs/run1\n1:name=systemd:/", root: "/cg") { files[$0] }
        #expect(v1 == 2_147_483_648)
        let v2 = MemoryBudget.cgroupLimit(procSelfCgroup: "0::/user.slice/session\n", root: "/cg") { files[$0] }
        #expect(v2 == 8_589_934_592)
        #expect(MemoryBudget.cgroupLimit(procSelfCgroup: "0::/\n", root: "/cg") { files[$0] } == nil)
    }
}
