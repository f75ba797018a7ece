import Foundation
import Testing
import TestSupport
@testable import SoftLabel

/// Inputs nobody planned for (issue 9): each was a trap, a huge allocation or a broken message before.
/// The fixture files among them are pinned in CSVFixtureTests and NPYReaderTests.
@Suite struct HostileInputTests {
    // MARK: one-line messages

    @Test func controlCharactersAreEscaped() {
        #expect(escapingControlCharacters("plain text, é, 犬") == "plain text, é, 犬")
        #expect(escapingControlCharacters("a\rb\nc\td\0e") == "a\\rb\\nc\\td\\0e")
        #expect(escapingControlCharacters("\u{0B}\u{0C}\u{1B}[31m\u{7F}\u{85}") == "\\u{0B}\\u{0C}\\u{1B}[31m\\u{7F}\\u{85}")
        #expect(escapingControlCharacters("x\u{2028}y\u{202E}z\u{2066}") == "x\\u{2028}y\\u{202E}z\\u{2066}")
        // "\r\n" is one Character in Swift but two escapes here.
        #expect(escapingControlCharacters("a\r\nb") == "a\\r\\nb")
        // Idempotent: a backslash is left alone, so escaping twice changes nothing.
        let once = escapingControlCharacters("a\u{0B}b\\r")
        #expect(escapingControlCharacters(once) == once && once == "a\\u{0B}b\\r")
    }

    @Test func dataErrorsAreOneLineWhateverTheyQuote() {
        let e = DataError(file: "dir\n/x.csv", line: 3, column: "a\rb", "'\u{1B}[2J' is not a number")
        #expect(e.file == "dir\\n/x.csv" && e.column == "a\\rb" && e.message == "'\\u{1B}[2J' is not a number")
        #expect(e.description == "dir\\n/x.csv:3: column 'a\\rb': '\\u{1B}[2J' is not a number")
        // A message changed after init is escaped on the way out.
        var changed = e
        changed.message += " \u{0B}"
        #expect(changed.description.hasSuffix(" \\u{0B}"))
    }

    // MARK: inspect without labels

    @Test func summaryOfDataWithoutLabels() throws {
        let data = try CSVReader.read(path: fixture("csv/bad/no-label-columns.csv"), labels: .optional).dataset
        let s = DataSummary(data, parallel: Parallel(threads: 1))
        #expect(s.rows == 1 && s.classCount == 0 && s.classes.isEmpty && s.meanEntropy == 0 && s.splitShare == 0)
        #expect(s.features.map(\.name) == ["a", "b"] && s.features[0].min == 1)
        let npy = try NPYReader.read(NPYSource(features: fixture("npy/good/x_f4.npy")), labels: .optional).dataset
        #expect(DataSummary(npy, parallel: Parallel(threads: 2)).classCount == 0)
    }

    // MARK: absurd class counts, refused before allocating

    @Test func oneHotTargetsMustFitInMemory() throws {
        try DataLimits.checkOneHot(rows: 1000, classes: 250, file: "y.npy", budget: 1_000_000)
        #expect(throws: DataError(file: "y.npy", "1000 rows x 251 classes of one-hot targets need 0.0 GB, more than half " +
                                  "of this machine's memory (0.0 GB)")) {
            try DataLimits.checkOneHot(rows: 1000, classes: 251, file: "y.npy", budget: 1_000_000)
        }
        // rows x classes beyond Int: an error, not an overflow trap.
        #expect(throws: DataError.self) { try DataLimits.checkOneHot(rows: 1 << 40, classes: 1 << 40, file: "y.npy") }
        #expect(DataLimits.oneHotBudget > 0)
    }

    /// An id column named `label`: every row its own class. Refused at the first class past the limit.
    @Test func hardLabelColumnWithTooManyClasses() throws {
        var text = "a,label\n"
        text.reserveCapacity(1_500_000)
        for i in 0...DataLimits.maxClasses { text += "1,c\(i)\n" }
        let path = temporaryFile(text)
        let first = #expect(throws: DataError.self) { try CSVReader.read(path: path, threads: 1) }
        #expect(first?.line == DataLimits.maxClasses + 2 && first?.column == "label")
        #expect(first?.message == "the label column has more than 100000 classes, the most softlabel supports " +
                "(is it really a label column?)")
        // Split across two workers, each may see fewer than the limit (the chunks are handed out as workers ask,
        // so either worker may parse both); the total is still refused before the one-hot targets are built.
        let e = #expect(throws: DataError.self) {
            try CSVReader.read(path: path, classes: nil, labels: .required, threads: 2, chunkBytes: 1 << 19, chunkRows: 60_000)
        }
        #expect(e?.column == "label")
        #expect(e?.message == first?.message || e?.message == "100001 distinct classes in 100001 rows, more than 100000 " +
                "classes, the most softlabel supports (is it really a label column?)")
    }

    @Test func softLabelColumnsBeyondTheLimit() throws {
        let k = DataLimits.maxClasses + 1
        let header = "a," + (0..<k).map { "label:\($0)" }.joined(separator: ",")
        let path = temporaryFile(header + "\n1," + Array(repeating: "1", count: k).joined(separator: ",") + "\n")
        #expect(readError(path) == "line 1 column -: 100001 label columns, more than 100000 classes, the most softlabel supports")

        let dir = (path as NSString).deletingLastPathComponent
        try writeNPY([1], shape: [1, 1], to: dir + "/x.npy")
        try writeNPY([Float](repeating: 1, count: k), shape: [1, k], to: dir + "/y.npy")
        #expect(throws: DataError(file: dir + "/y.npy", "has shape (1, 100001): 100001 label columns, more than 100000 " +
                                  "classes, the most softlabel supports")) {
            try NPYReader.read(NPYSource(features: dir + "/x.npy", labels: dir + "/y.npy"))
        }
        let names = dir + "/classes.txt"
        _ = FileManager.default.createFile(atPath: names, contents: Data((0..<k).map { "c\($0)\n" }.joined().utf8))
        #expect(throws: DataError(file: names, "names more than 100000 classes, the most softlabel supports")) {
            try NPYReader.read(NPYSource(features: dir + "/x.npy", labels: dir + "/y.npy", classesFile: names))
        }
    }

    /// Name lists are read without keeping blank lines or names beyond what is wanted: 4 MB of line breaks
    /// made 4 million empty Strings before the first one was found to be an error.
    @Test func nameListsStopEarly() throws {
        let blanks = temporaryFile("cat\n" + String(repeating: "\n", count: 4 << 20) + "dog\n", name: "classes.txt")
        #expect(throws: DataError(file: blanks, line: 2, "empty class name")) { try NameList.read(blanks, what: "class") }
        let trailing = temporaryFile("cat\r\ndog" + String(repeating: "\r\n", count: 1000), name: "classes.txt")
        #expect(try NameList.read(trailing, what: "class") == ["cat", "dog"])
        let empty = temporaryFile(String(repeating: "\n", count: 1000), name: "classes.txt")
        #expect(throws: DataError(file: empty, "is empty, expected one class name per line")) {
            try NameList.read(empty, what: "class")
        }
        let four = temporaryFile("a\nb\nc\nd\n", name: "features.txt")
        #expect(throws: DataError(file: four, "names more than 3 features, but \(fixture("npy/good/x_f4.npy")) has 3 columns")) {
            try NPYReader.read(NPYSource(features: fixture("npy/good/x_f4.npy"), featureNamesFile: four), labels: .optional)
        }
    }

    /// Hard-label codes held the worker in bits 24-31 of an Int32: from worker 128 on they turned negative
    /// and the one-hot lookup trapped (--threads 200 on a big file).
    @Test func hardLabelsWithHundredsOfWorkers() throws {
        var text = "a,label\n"
        for i in 0..<600 { text += "\(i),\(["x", "y", "z"][i % 3])\n" }
        let path = temporaryFile(text)
        let one = try CSVReader.read(path: path, threads: 1).dataset
        let many = try CSVReader.read(path: path, classes: nil, labels: .required, threads: 200, chunkBytes: 1 << 19,
                                      chunkRows: 2).dataset
        #expect(many.targets == one.targets && many.classNames == ["x", "y", "z"])
        #expect(ClassTable.code(worker: Int32(ClassTable.maxWorkers - 1), local: Int32(DataLimits.maxClasses - 1)) > 0)
    }

    // MARK: standardisation of extreme spreads

    @Test func denormalSpreadIsAConstantFeature() {
        // Column 0: 0 and 9e-41 (std 5e-41, subnormal); column 1: ordinary values; column 2: constant.
        let tiny = Float.leastNormalMagnitude / 128
        let x = Matrix(rows: 4, cols: 3, values: [0, 1, 7, tiny, 2, 7, 0, 3, 7, tiny, 4, 7])
        let s = Standardizer(fitting: x)
        #expect(s.std[0] == 0 && s.std[2] == 0 && s.std[1] == Float(1.25.squareRoot()))
        var z = x
        s.apply(to: &z)
        #expect(z.values.allSatisfy { $0.isFinite })
        #expect((0..<4).allSatisfy { z[$0, 0] == 0 && z[$0, 2] == 0 })
        // Ordinary columns keep the Float formula's bits.
        #expect((0..<4).allSatisfy { z[$0, 1] == (x[$0, 1] - s.mean[1]) * (1 / s.std[1]) })
        // The smallest normal std still divides.
        #expect(Standardizer.scale(ofStd: .leastNormalMagnitude) == 1 / .leastNormalMagnitude)
        #expect(Standardizer.scale(ofStd: .leastNormalMagnitude.nextDown) == 0)
        // A model file holding a subnormal std (hand-written) maps the feature to 0 as well.
        var w = Matrix(rows: 1, cols: 1, values: [5])
        Standardizer(mean: [0], std: [tiny]).apply(to: &w)
        #expect(w.values == [0])
    }

    @Test func hugeFiniteSpreadStaysFinite() {
        // x - mean overflows Float for the last row (-3e38 - 1e38); Double does not.
        let x = Matrix(rows: 3, cols: 1, values: [3e38, 3e38, -3e38])
        let s = Standardizer(fitting: x)
        var z = x
        s.apply(to: &z)
        #expect(z.values.allSatisfy { $0.isFinite })
        #expect(abs(Double(z.values[2]) + 2.0.squareRoot()) < 1e-6 && abs(Double(z.values[0]) - 0.5.squareRoot()) < 1e-6)
    }

    /// The fitting (8 columns a vector, column ranges across threads) and the application (16 values a vector,
    /// rows across threads) give the bits of the one-value-at-a-time arithmetic they replaced, on a subset of
    /// rows, with a ragged last vector, a constant and a subnormal-spread column and a value whose
    /// x - mean overflows Float (the Double fallback inside a vector).
    @Test(arguments: [1, 3, 16])
    func standardisationBitsForAnyThreadCount(_ threads: Int) {
        let n = 700, d = 37
        var g = TestData(seed: 12)
        var x = g.matrix(n, d, scale: 3)
        for i in 0..<n {
            x[i, 4] = 2.5
            x[i, 9] = i % 2 == 0 ? 0 : Float.leastNormalMagnitude / 64
        }
        x[5, 20] = 3e38
        x[6, 20] = -3e38
        let rows = (0..<n).filter { $0 % 7 != 3 }
        // The arithmetic as it was written before, one value at a time.
        var sum = [Double](repeating: 0, count: d), sq = sum
        var lo = [Float](repeating: .infinity, count: d), hi = [Float](repeating: -.infinity, count: d)
        for i in rows { for j in 0..<d { sum[j] += Double(x[i, j]); lo[j] = min(lo[j], x[i, j]); hi[j] = max(hi[j], x[i, j]) } }
        let mean = sum.map { $0 / Double(rows.count) }
        for i in rows { for j in 0..<d { let e = Double(x[i, j]) - mean[j]; sq[j] += e * e } }
        let std: [Float] = (0..<d).map { j in
            let s = Float((sq[j] / Double(rows.count)).squareRoot())
            return lo[j] == hi[j] || Standardizer.scale(ofStd: s) == 0 ? 0 : s
        }
        let fitted = Standardizer(fitting: x, rows: rows, parallel: Parallel(threads: threads))
        #expect(fitted.mean.map(\.bitPattern) == mean.map { Float($0).bitPattern })
        #expect(fitted.std.map(\.bitPattern) == std.map(\.bitPattern))
        #expect(fitted.std[4] == 0 && fitted.std[9] == 0)
        var expected = x
        let scale = fitted.std.map(Standardizer.scale(ofStd:))
        for i in 0..<n {
            for j in 0..<d {
                let a = x[i, j], z = (a - fitted.mean[j]) * scale[j]
                expected[i, j] = z.isFinite || !a.isFinite ? z
                    : Float((Double(a) - Double(fitted.mean[j])) * Double(scale[j]))
            }
        }
        var z = x
        fitted.apply(to: &z, parallel: Parallel(threads: threads))
        #expect(z.values.map(\.bitPattern) == expected.values.map(\.bitPattern))
        #expect(z.values.allSatisfy { $0.isFinite } && abs(z[6, 20]) > 1)
    }

    // MARK: huge but finite logits

    /// Found by Scripts/fuzz (npy, as --teacher-logits): logits of -6e29 made log q = z - (m + log Σ) = 0,
    /// since m + log Σ rounds to m, so the "distribution" summed to 3. The difference z - m comes first now.
    @Test func teacherTargetsFromHugeLogitsAreDistributions() throws {
        let d = try NPYReader.read(NPYSource(features: fixture("npy/good/x_f4.npy"),
                                             teacherLogits: fixture("npy/good/z_teacher_huge.npy")))
        let t = d.dataset.targets
        #expect(t.row(0) == [Float(1.0 / 3), Float(1.0 / 3), Float(1.0 / 3)])
        #expect(t.row(1) == [0, 0, 1] && t.row(2) == [1, 0, 0])
        for i in 0..<4 { #expect(abs(t.row(i).reduce(0, +) - 1) < 1e-6, "row \(i)") }
        // The metrics share the log-softmax: a prediction of huge equal logits is uniform, KL to uniform is 0.
        let e = Evaluation(logits: Matrix(rows: 1, cols: 3, values: [-6e29, -6e29, -6e29]),
                           targets: Matrix(rows: 1, cols: 3, values: [Float(1.0 / 3), Float(1.0 / 3), Float(1.0 / 3)]))
        #expect(abs(e.kl) < 1e-6 && abs(e.crossEntropy - log(3)) < 1e-6)
    }

    // MARK: metrics never trap on a bad prediction

    @Test func reliabilityBinOfAnyDouble() {
        #expect(Reliability.bin(of: .nan) == 0 && Reliability.bin(of: -.infinity) == 0 && Reliability.bin(of: -1) == 0)
        #expect(Reliability.bin(of: .infinity) == 14 && Reliability.bin(of: 2) == 14 && Reliability.bin(of: 1) == 14)
        #expect(Reliability.bin(of: 0.5) == 7 && Reliability.bin(of: 0.9999) == 14 && Reliability.bin(of: 1.0 / 15) == 1)
    }

    /// Prediction refuses non-finite logits (NonFinitePrediction); the metrics still must not trap if one
    /// reaches them (Int(NaN) in the reliability bins did).
    @Test func evaluationOfNonFiniteLogitsDoesNotTrap() {
        let targets = Matrix(rows: 3, cols: 2, values: [1, 0, 0, 1, 0.5, 0.5])
        let bad = Evaluation(logits: Matrix(rows: 3, cols: 2, values: [1, 0, .nan, 1, .infinity, 0]), targets: targets)
        #expect(bad.count == 3 && bad.reliability.total == 3)
        // z / T is taken in Double: a tiny temperature (1.4e-45) gives huge but finite values.
        let hot = Evaluation(logits: Matrix(rows: 3, cols: 2, values: [1, 0, 0, 1, 0, 0]), targets: targets,
                             temperature: .leastNonzeroMagnitude)
        #expect(hot.kl.isFinite && hot.ece.isFinite)
    }
}
