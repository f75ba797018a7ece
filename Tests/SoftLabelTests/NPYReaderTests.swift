import Foundation
import Testing
import TestSupport
@testable import SoftLabel

/// NPY arrays written by numpy (Scripts/make_fixtures.py) read back exactly; malformed ones give their message.
@Suite struct NPYReaderTests {
    let good = "npy/good/", bad = "npy/bad/"

    func read(_ x: String, _ y: String? = nil, classes: String? = nil, names: String? = nil,
              model: [String]? = nil) throws -> LoadedData {
        try NPYReader.read(NPYSource(features: fixture(x), labels: y.map(fixture), classesFile: classes.map(fixture),
                                     featureNamesFile: names.map(fixture)),
                           classes: model, labels: y == nil ? .optional : .required)
    }

    func message(_ x: String, _ y: String? = nil, classes: String? = nil, names: String? = nil) -> String {
        do {
            _ = try read(x, y, classes: classes, names: names)
            return "no error"
        } catch let e as DataError {
            return (e.row.map { "row \($0) " } ?? "") + (e.line.map { "line \($0) " } ?? "") +
                (e.column.map { "column \($0): " } ?? "") + e.message
        } catch {
            return "\(error)"
        }
    }

    @Test func everyDtypeOrderAndVersionReadsBack() throws {
        let floats = (0..<12).map { Float($0) / 4 - 1.5 }
        for name in ["x_f4", "x_f8", "x_f4_fortran", "x_f8_fortran", "x_f4_big_endian", "x_f4_v2", "x_f4_v3", "x_f2",
                     "x_f2_big_endian"] {
            let d = try read(good + name + ".npy", good + "y_prob_f4.npy").dataset
            #expect(d.features.values == floats, "\(name)")
            #expect(d.features.rows == 4 && d.featureNames == ["f0", "f1", "f2"], "\(name)")
        }
        for name in ["x_i1", "x_i2", "x_i4", "x_i8", "x_i4_big_endian"] {
            #expect(try read(good + name + ".npy").dataset.features.values == (0..<12).map { Float($0 - 4) }, "\(name)")
        }
        for name in ["x_u1", "x_u2", "x_u4", "x_u8"] {
            #expect(try read(good + name + ".npy").dataset.features.values == (0..<12).map { Float($0) }, "\(name)")
        }
    }

    @Test func labelForms() throws {
        let probs: [Float] = [0.25, 0.75, 1, 0, 0.5, 0.5, 0, 1]
        for name in ["y_prob_f4", "y_prob_f8"] {
            let d = try read(good + "x_f4.npy", good + name + ".npy").dataset
            #expect(d.targets.values == probs && d.classNames == ["0", "1"], "\(name)")
            #expect(d.ids == ["0", "1", "2", "3"])  // 0-based, as errors number NPY rows
        }
        let counts = try read(good + "x_f4.npy", good + "y_counts_i4.npy").dataset
        #expect(counts.targets.values == [0.25, 0.75, 1, 0, 0.5, 0.5, 0, 1])
        #expect(try read(good + "x_f4.npy", good + "y_onehot_bool.npy").dataset.targets.values == [0, 1, 1, 0, 1, 0, 0, 1])
        let oneHot: [Float] = [0, 1, 0, 1, 0, 0, 0, 0, 1, 0, 1, 0]  // indices 1, 0, 2, 1
        for name in ["y_index_i8", "y_index_u1", "y_index_f8"] {
            let d = try read(good + "x_f4.npy", good + name + ".npy").dataset
            #expect(d.targets.values == oneHot && d.classNames == ["0", "1", "2"], "\(name)")
        }
        let named = try read(good + "x_f4.npy", good + "y_index_i8.npy", classes: good + "classes3.txt",
                             names: good + "features3.txt").dataset
        #expect(named.classNames == ["cat", "dog", "chat noir"] && named.featureNames == ["width", "height", "depth"])
        // Old Mac line ends (a lone CR) in a names file, as in CSV.
        let cr = try read(good + "x_f4.npy", good + "y_index_i8.npy", classes: good + "classes3_cr.txt").dataset
        #expect(cr.classNames == ["cat", "dog", "chat noir"])
        // For a model, targets come out in the model's class order.
        let reordered = try read(good + "x_f4.npy", good + "y_index_i8.npy", classes: good + "classes3.txt",
                                 model: ["chat noir", "dog", "cat"]).dataset
        #expect(reordered.targets.row(0) == [0, 1, 0] && reordered.targets.row(2) == [1, 0, 0])
    }

    /// float16 widens exactly: the extremes, the smallest subnormal, -0 (kept: features are not labels), and
    /// values float16 rounds (0.1 is 0.0999755859375 there).
    @Test func float16SpecialValuesWidenExactly() throws {
        let x = try read(good + "x_f2_special.npy").dataset.features
        #expect(x.values.map(\.bitPattern) == [65504, -65504, 0x1p-24, -0.0, Float(Float16(0.1)), Float(Float16(0.001))].map(\.bitPattern))
        #expect(Float(Float16(0.1)) == 0.0999755859375)
        // The vectorised path (16 at a time) and the scalar tail agree with Float16's own conversion.
        let halves = (0..<37).map { Float16(Float($0) * 0.37 - 5) }
        var out = [Float](repeating: 0, count: halves.count)
        halves.withUnsafeBytes { raw in out.withUnsafeMutableBufferPointer { HalfFloat.widen(raw.baseAddress!, count: 37, into: $0.baseAddress!) } }
        #expect(out == halves.map { Float($0) })
        var back = [UInt16](repeating: 0, count: 37)
        out.withUnsafeBufferPointer { src in back.withUnsafeMutableBytes { HalfFloat.narrow(src.baseAddress!, count: 37, into: $0.baseAddress!) } }
        #expect(back == halves.map(\.bitPattern))
        // Narrowing rounds to nearest, ties to even, and overflows to inf as numpy does.
        let wide: [Float] = [1 + 0x1p-11, 1 + 3 * 0x1p-11, 65520, 65519.99, 1e-8]
        var narrow = [UInt16](repeating: 0, count: wide.count)
        wide.withUnsafeBufferPointer { src in narrow.withUnsafeMutableBytes { HalfFloat.narrow(src.baseAddress!, count: wide.count, into: $0.baseAddress!) } }
        #expect(narrow.map { Float(Float16(bitPattern: $0)) } == [1, 1 + 2 * 0x1p-10, .infinity, 65504, 0])
    }

    /// The finite check finds the first NaN or infinity wherever it is: in a 64-value step, a tail, the second
    /// of several 1 MiB pieces checked in parallel (the earliest piece wins, for any thread count).
    @Test func finiteCheckFindsTheFirstBadValue() {
        var v = [Float](repeating: 1.5, count: 700_001)
        #expect(v.withUnsafeBufferPointer { NPYArray.firstNonFinite($0) } == nil)
        for (positions, first) in [([5], 5), ([699_999], 699_999), ([300_000, 600_000], 300_000), ([700_000], 700_000)] {
            var w = v
            for (i, p) in positions.enumerated() { w[p] = i == 0 ? .nan : -.infinity }
            w.withUnsafeBufferPointer { b in
                #expect(NPYArray.firstNonFinite(b) == first)
                for t in [1, 2, 16] { #expect(NPYArray.firstNonFinite(b, parallel: Parallel(threads: t)) == first) }
            }
        }
        v[3] = .greatestFiniteMagnitude
        v[4] = -0.0
        v[6] = .leastNonzeroMagnitude
        #expect(v.withUnsafeBufferPointer { NPYArray.firstNonFinite($0, parallel: Parallel(threads: 2)) } == nil)
    }

    @Test func malformedFilesHaveTheirMessages() {
        let x = good + "x_f4.npy", y = good + "y_prob_f4.npy"
        let cases: [(String, String)] = [
            (message(bad + "bad_magic.npy", y), "is not an NPY file (bad magic bytes, expected '\\x93NUMPY')"),
            (message(bad + "bad_version.npy", y), "has NPY format version 7.0, expected 1.0, 2.0 or 3.0"),
            (message(bad + "truncated_header.npy", y), "is truncated inside its NPY header"),
            (message(bad + "truncated.npy", y), "is truncated: its header shape (4, 3) of <f4 needs 48 bytes of data, the file has 43"),
            (message(bad + "extra_bytes.npy", y), "has 8 bytes more than its header shape (4, 3) of <f4 needs: the header disagrees with the file size"),
            (message(bad + "x_complex.npy", y), "has unsupported dtype '<c8' (complex), expected float16, float32, float64, an integer type or bool"),
            (message(bad + "x_object.npy", y), "has unsupported dtype '|O' (Python objects), expected float16, float32, float64, an integer type or bool"),
            (message(bad + "x_text.npy", y), "has unsupported dtype '<U1' (text), expected float16, float32, float64, an integer type or bool"),
            (message(bad + "x_f2_inf.npy", y), "row 3 column f0: infinite or too large for Float, expected a finite number"),
            (message(bad + "x_structured.npy", y), "has a structured dtype (record fields), expected a plain numeric array"),
            (message(bad + "x_3d.npy", y), "has shape (2, 2, 2), expected 2-D features (rows, features)"),
            (message(bad + "x_1d.npy", y), "has shape (4,), expected 2-D features (rows, features)"),
            (message(bad + "x_nan.npy", y), "row 2 column f1: NaN, expected a finite number"),
            (message(bad + "x_f8_overflow.npy", y), "row 1 column f2: infinite or too large for Float, expected a finite number"),
            (message(bad + "rows5_f4.npy", y), "has 4 rows, but the features file \(fixture(bad + "rows5_f4.npy")) has 5"),
            (message(x, bad + "y_rows3.npy"), "has 3 rows, but the features file \(fixture(x)) has 4"),
            (message(x, bad + "y_3d.npy"), "has shape (4, 2, 1), expected (rows, classes) or (rows,) class indices"),
            (message(x, bad + "y_negative.npy"), "row 2 column 0: negative label value -0.25"),
            (message(x, bad + "y_nan.npy"), "row 1 column 0: NaN, expected a probability or count"),
            (message(x, bad + "y_sum_zero.npy"), "row 2 label values sum to 0, expected a distribution or counts"),
            (message(x, bad + "y_one_class.npy"), "has shape (4, 1): 1 class(es), expected at least two"),
            (message(x, bad + "y_index_negative.npy"), "row 2 negative class index -1"),
            (message(x, bad + "y_index_fraction.npy"), "row 2 class index 0.5 is not an integer"),
            (message(x, bad + "y_index_big.npy", classes: good + "classes3.txt"),
             "row 2 class index 7, but \(fixture(good + "classes3.txt")) names only 3 classes (0...2)"),
            (message(x, good + "y_index_i8.npy", classes: bad + "classes_duplicate.txt"), "line 3 duplicate class name 'cat' (also on line 1)"),
            (message(x, good + "y_index_i8.npy", classes: bad + "classes_blank_line.txt"), "line 2 empty class name"),
            (message(x, y, classes: good + "classes3.txt"), "names 3 classes, but \(fixture(y)) has 2 label columns"),
            (message(x, y, names: bad + "features2.txt"), "names 2 features, but \(fixture(x)) has 3 columns"),
            (message(bad + "nope.npy", y), "no such file"),
            // Hostile headers: each trapped (an overflow) or asked for gigabytes before.
            (message(bad + "x_dtype_huge.npy", y),
             "has unsupported dtype '<f4611686018427387904', expected float16, float32, float64, an integer type or bool"),
            (message(bad + "x_dtype_control.npy", y),
             "has unsupported dtype '<f\\u{0B}4', expected float16, float32, float64, an integer type or bool"),
            (message(bad + "x_shape_digits.npy", y), "has an NPY shape dimension of 20 digits, too large for any array"),
            (message(bad + "x_shape_overflow.npy", y), "is truncated: its header shape (4611686018427387904, " +
             "4611686018427387904) of <f4 needs more than 2^63 bytes of data, the file has 48"),
            (message(bad + "x_header_huge.npy", y),
             "has an NPY header of 1048576 bytes, more than the 65536 bytes a numeric array's header needs"),
            (message(bad + "x_header_trailing.npy", y),
             "has a malformed NPY header (expected only spaces after the header's '}' at character 92)"),
            (message(x, bad + "y_index_1e19_u8.npy"), "row 2 class index 1e+19 means more than 100000 classes, " +
             "the most softlabel supports (is this really a label column?)"),
            (message(x, bad + "y_index_u8_max.npy"), "row 2 class index 1.8446744073709552e+19 means more than 100000 " +
             "classes, the most softlabel supports (is this really a label column?)"),
            (message(x, bad + "y_index_minus_1e19.npy"), "row 2 negative class index -1e+19"),
            (message(x, bad + "y_index_1e8.npy"), "row 2 class index 100000000 means more than 100000 classes, " +
             "the most softlabel supports (is this really a label column?)"),
            (message(x, good + "y_index_i8.npy", classes: bad + "classes_tsv.txt"), "line 1 class name 'cat\\t0' contains " +
             "a control character (a tab: is this a table with several columns?), expected one name per line"),
            (message(x, good + "y_index_i8.npy", classes: bad + "classes_vt.txt"),
             "line 2 class name 'do\\u{0B}g' contains a control character, expected one name per line"),
        ]
        for (got, expected) in cases { #expect(got == expected) }
    }

    /// The same float32 data as CSV (shortest round-trip text) and as NPY gives bit-identical Datasets.
    @Test func npyAndCSVGiveIdenticalDatasets() throws {
        var g = TestData(seed: 11)
        let n = 500, d = 7, k = 3
        let x = g.matrix(n, d, scale: 100)
        let raw = (0..<(n * k)).map { _ in Float(g.rng.nextUnit()) }  // unnormalised: both readers normalise
        var csv = (0..<d).map { "f\($0)" }.joined(separator: ",") + "," + (0..<k).map { "label:\($0)" }.joined(separator: ",") + "\n"
        for i in 0..<n {
            csv += (x.row(i).map { "\($0)" } + raw[(i * k)..<((i + 1) * k)].map { "\($0)" }).joined(separator: ",") + "\n"
        }
        let csvPath = temporaryFile(csv)
        let dir = (csvPath as NSString).deletingLastPathComponent
        try writeNPY(x.values, shape: [n, d], to: dir + "/x.npy")
        try writeNPY(raw, shape: [n, k], to: dir + "/y.npy")
        let a = try CSVReader.read(path: csvPath)
        let b = try NPYReader.read(NPYSource(features: dir + "/x.npy", labels: dir + "/y.npy"))
        #expect(a.dataset.features.values.map(\.bitPattern) == b.dataset.features.values.map(\.bitPattern))
        #expect(a.dataset.targets.values.map(\.bitPattern) == b.dataset.targets.values.map(\.bitPattern))
        // Ids: CSV data rows count from 1, NPY rows from 0 (as NPY errors count them).
        #expect(a.dataset.ids == b.dataset.ids.map { String(Int($0)! + 1) } && a.dataset.featureNames == b.dataset.featureNames)
        #expect(a.dataset.classNames == b.dataset.classNames)
        #expect(a.warnings.count == 1 && b.warnings.count == 1)
    }
}
