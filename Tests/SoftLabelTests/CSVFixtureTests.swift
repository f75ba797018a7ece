import Foundation
import Testing
import TestSupport
@testable import SoftLabel


/// "line L column C: message" for the error reading `path` raises ("-" where a part is absent).
func readError(_ path: String, labels: LabelMode = .required, classes: [String]? = nil) -> String {
    do {
        _ = try CSVReader.read(path: path, classes: classes, labels: labels)
        return "no error"
    } catch let e as DataError {
        return "line \(e.line.map(String.init) ?? "-") column \(e.column ?? "-"): \(e.message)"
    } catch {
        return "\(error)"
    }
}

/// The malformed corpus (Tests/Fixtures/csv/bad, written by Scripts/make_fixtures.py): each file its own message.
@Suite struct CSVBadFixtureTests {
    static let expected: [(String, String)] = [
        ("empty.csv", "line - column -: is empty, expected a header row and data rows"),
        ("only-blank-lines.csv", "line - column -: is empty, expected a header row and data rows"),
        ("header-only.csv", "line 1 column -: has a header but no data rows"),
        ("no-label-columns.csv", "line 1 column -: no label columns, expected 'label', 'label:<class>' or 'logit:<class>' columns"),
        ("no-feature-columns.csv", "line 1 column -: no feature columns"),
        ("too-few-cells.csv", "line 3 column -: has 3 cells, expected 4 (as in the header)"),
        ("too-many-cells.csv", "line 2 column -: has 5 cells, expected 4 (as in the header)"),
        ("feature-empty.csv", "line 2 column b: empty cell, expected a number"),
        ("feature-text.csv", "line 2 column b: 'abc' is not a number"),
        ("feature-nan.csv", "line 2 column b: NaN, expected a finite number"),
        ("feature-inf.csv", "line 2 column a: '-inf' is infinite or overflows Float"),
        ("feature-overflow.csv", "line 2 column b: '1e39' is infinite or overflows Float"),
        ("label-negative.csv", "line 2 column label:x: negative label value -0.5"),
        ("label-nan.csv", "line 2 column label:x: NaN, expected a finite number"),
        ("label-text.csv", "line 2 column label:x: 'yes' is not a number"),
        ("label-inf.csv", "line 2 column label:x: 'inf' is infinite or overflows Float"),
        ("label-sum-zero.csv", "line 3 column -: label cells sum to 0, expected a distribution or counts"),
        ("duplicate-column.csv", "line 1 column a: duplicate column name"),
        ("duplicate-class.csv", "line 1 column label:x: duplicate class 'x' in label columns"),
        ("one-class.csv", "line 1 column -: only one class ('x'), expected at least two"),
        ("one-class-hard.csv", "line - column label: only one class ('x'), expected at least two"),
        ("empty-header-cell.csv", "line 1 column -: header cell 2 is empty, expected a column name"),
        ("pandas-index.csv", "line 1 column -: header cell 1 is empty, expected a column name " +
            "(a pandas index column? write with index=False or name it 'id')"),
        ("empty-class-name.csv", "line 1 column label:: empty class name after 'label:'"),
        ("hard-label-empty.csv", "line 3 column label: empty class name"),
        ("both-label-forms.csv", "line 1 column label: both 'label' and 'label:<class>' columns, expected one form of label"),
        ("unterminated-quote.csv", "line 2 column -: unterminated quoted field (no closing '\"')"),
        ("stray-quote.csv", "line 2 column -: stray quote inside an unquoted field"),
        ("text-after-quote.csv", "line 2 column -: text after a closing quote, expected ',' or end of line"),
        ("binary.csv", "line - column -: contains a NUL byte at offset 8: binary data, expected UTF-8 CSV text"),
        ("utf16-bom.csv", "line 1 column -: is UTF-16 text, expected UTF-8 CSV"),
        ("utf16-no-bom.csv", "line 1 column -: is UTF-16 text (no byte-order mark), expected UTF-8 CSV"),
        ("latin1-id.csv", "line 2 column id: is not valid UTF-8 text (byte 0xE9); expected UTF-8 (re-save the file as UTF-8)"),
        ("latin1-header.csv", "line 1 column -: header cell 1 is not valid UTF-8 text (byte 0xF1); expected UTF-8 " +
            "(re-save the file as UTF-8)"),
        ("nul-in-data.csv", "line - column -: contains a NUL byte at offset 35: binary data, expected UTF-8 CSV text"),
        ("gzip.csv", "line - column -: is gzip-compressed, expected CSV text (decompress it first)"),
        ("npy-as-csv.csv", "line - column -: is an NPY array, expected CSV text (pass NPY files with --features/--labels)"),
        // Control characters from the file are escaped in messages (one line, nothing for the terminal to act on).
        ("feature-cr-inside.csv", "line 2 column b: '2\\r3' is not a number"),
        ("feature-vt.csv", "line 2 column b: '\\u{0B}7' is not a number"),
        ("header-escape.csv", "line 2 column a\\u{1B}[31m: 'red' is not a number"),
        ("label-bidi-override.csv", "line 2 column label:x: '\\u{202E}0.5' is not a number"),
    ]

    @Test func everyFileHasItsMessage() {
        for (name, message) in Self.expected {
            #expect(readError(fixture("csv/bad/" + name)) == message, "\(name)")
        }
    }

    @Test func theTableCoversTheWholeCorpus() throws {
        let files = try FileManager.default.contentsOfDirectory(atPath: fixture("csv/bad")).sorted()
        #expect(files == Self.expected.map(\.0).sorted())
    }

    @Test func missingFileAndDirectory() {
        #expect(readError(fixture("csv/nope.csv")) == "line - column -: no such file")
        #expect(readError(fixture("csv")) == "line - column -: is a directory, expected a data file")
    }

    /// Bad label cells are errors for predict too (labels read and checked), but not when skipped unread.
    @Test func labelModes() {
        #expect(readError(fixture("csv/bad/label-negative.csv"), labels: .optional)
                == "line 2 column label:x: negative label value -0.5")
        #expect(readError(fixture("csv/bad/label-negative.csv"), labels: .ignored) == "no error")
        #expect(readError(fixture("csv/bad/no-label-columns.csv"), labels: .optional) == "no error")
    }

    @Test func hardLabelOutsideTheModelsClasses() {
        #expect(readError(fixture("csv/good/hard-labels.csv"), classes: ["x", "z"])
                == "line 3 column label: class 'y' is not one of the model's classes")
    }

    /// A 20 MB line is an error found in one pass over it, not a hang or an out-of-memory.
    @Test func twentyMegabyteLines() throws {
        let long = String(repeating: "1,", count: 10 << 20)
        let path = temporaryFile("a,b,label:x,label:y\n1,2,0.5,0.5\n" + long + "1\n")
        #expect(readError(path) == "line 3 column -: has \((10 << 20) + 1) cells, expected 4 (as in the header)")
        // A 20 MB quoted id (the RFC 4180 reader grows its buffer) is valid.
        let id = String(repeating: "x", count: 20 << 20)
        let quoted = temporaryFile("id,a,b,label:x,label:y\n\"\(id)\",1,2,0.5,0.5\nr2,3,4,1,0\n")
        let d = try CSVReader.read(path: quoted).dataset
        #expect(d.ids[0].utf8.count == 20 << 20 && d.ids[1] == "r2")
        #expect(d.features.values == [1, 2, 3, 4])
    }
}

/// Odd but valid files (Tests/Fixtures/csv/good) parse to exactly these numbers.
@Suite struct CSVGoodFixtureTests {
    func read(_ name: String) throws -> LoadedData { try CSVReader.read(path: fixture("csv/good/" + name)) }

    @Test func rfc4180() throws {
        let d = try read("rfc4180.csv").dataset
        #expect(d.ids == ["r \"1\", first", "multi\r\nline"])
        #expect(d.featureNames == ["a", "b"] && d.classNames == ["x", "y"])
        #expect(d.features.values == [1.5, 2, 0.5, 3])
        #expect(d.targets.values == [0.25, 0.75, 0, 1])
    }

    @Test func numbersInEveryForm() throws {
        let d = try read("numbers.csv").dataset
        let x = d.features.values
        #expect(x[0...3] == [1.5, 0.5, 3, 100])
        #expect(x[4] == -0.002 && x[5] == 0 && x[5].sign == .minus)
        #expect(x[6] == 7 && x[7] == Float("1.17549435e-38")! && x[7].isNormal)
        #expect(x[8] == .greatestFiniteMagnitude && x[9] == 0.125)
        #expect(d.targets.values == [0.25, 0.75, 0.5, 0.5, 1, 0, 0, 1, 0.5, 0.5])
    }

    @Test func unicodeClassNames() throws {
        let d = try read("unicode-classes.csv").dataset
        #expect(d.classNames == ["chat noir", "犬", "🐕"])
        #expect(d.ids == ["zoé", "名前"])
    }

    @Test func lineEndingsAndBlankLines() throws {
        for name in ["blank-lines.csv", "crlf.csv", "cr-only.csv"] {
            let d = try read(name).dataset
            #expect(d.features.values == [1, 2, 3, 4], "\(name)")
            #expect(d.targets.values == [0.5, 0.5, 1, 0], "\(name)")
            #expect(d.ids == ["1", "2"], "\(name)")
        }
    }

    @Test func countsAndOneWarningForRowsOffOne() throws {
        let loaded = try read("counts-and-offsum.csv")
        #expect(loaded.dataset.targets.row(0) == [Float(40.0 / 51), Float(11.0 / 51)])
        #expect(loaded.dataset.targets.row(2) == [0.5, 0.5])
        #expect(loaded.warnings.count == 1)
        #expect(loaded.warnings[0].hasSuffix("counts-and-offsum.csv: 2 label row(s) are probabilities that do not sum to 1 " +
                                             "(worst sum \(Double(Float(0.3)) * 2)); normalised"))
    }

    @Test func quotedNumbersHardLabelsShuffledColumns() throws {
        #expect(try read("quoted-numbers.csv").dataset.features.values == [1.5, 2, 3, 4])
        let h = try read("hard-labels.csv").dataset
        #expect(h.classNames == ["x", "y"] && h.targets.values == [1, 0, 0, 1, 1, 0])
        let s = try read("columns-shuffled.csv").dataset
        #expect(s.featureNames == ["b", "a"] && s.classNames == ["y", "x"] && s.ids == ["r1", "r2"])
        #expect(s.features.values == [2, 1, 4, 3] && s.targets.values == [0.25, 0.75, 0.5, 0.5])
    }

    /// The parallel path gives the same Dataset for any thread count and chunking.
    @Test func sameResultOnAnyThreadCount() throws {
        var g = TestData(seed: 5)
        var text = "id,f0,f1,f2,label:a,label:b\n"
        for i in 0..<3000 {
            let v = (0..<5).map { _ in abs(g.rng.nextGaussian()) }
            text += "r\(i),\(Float(v[0])),\(-v[1]),\(v[2] * 1e-3),\(v[3]),\(v[4])\n"
        }
        let path = temporaryFile(text)
        let one = try CSVReader.read(path: path, threads: 1).dataset
        let two = try CSVReader.read(path: path, classes: nil, labels: .required, threads: 2, chunkBytes: 1000, chunkRows: 7).dataset
        let index = try CSVLineIndex.build(try InputFile(path: path), from: 29, firstLine: 2, threads: 3,
                                           chunkBytes: 1000, chunkRows: 7)
        #expect(index.rows == 3000 && index.chunks.count > 100)
        #expect(one.features == two.features && one.targets == two.targets && one.ids == two.ids)
        #expect(one.ids.last == "r2999")
    }
}
