import Foundation
import Testing
@testable import SoftLabel

/// Semicolon-, tab- and pipe-separated files: detected from the header line, read by both the fast path
/// (no quotes) and the RFC 4180 path (quotes), or named in the error.
@Suite struct CSVDelimiterTests {
    let comma = "id,x1,x2,label:a,label:b\nr1,1.5,-2,0.25,0.75\nr2,0,3e2,1,0\n"

    func expectSameAsComma(_ d: Dataset) throws {
        let reference = try CSVReader.read(path: temporaryFile(comma)).dataset
        #expect(d.ids == reference.ids && d.featureNames == reference.featureNames && d.classNames == reference.classNames)
        #expect(d.features.values == reference.features.values && d.targets.values == reference.targets.values)
    }

    @Test(arguments: [";", "\t", "|"])
    func detectedOnTheFastPath(_ separator: String) throws {
        let text = comma.replacingOccurrences(of: ",", with: separator)
        try expectSameAsComma(try CSVReader.read(path: temporaryFile(text)).dataset)
        // Small parallel chunks: every seam of the fast path sees the separator.
        try expectSameAsComma(try CSVReader.read(path: temporaryFile(text), classes: nil, labels: .required, threads: 4,
                                                  chunkBytes: 8, chunkRows: 1).dataset)
    }

    @Test(arguments: [";", "\t"])
    func detectedOnTheQuotedPath(_ separator: String) throws {
        // Quotes in the data rows send the file down the RFC 4180 reader; a quoted id holds the other separators.
        let text = "\"id\"\(separator)x1\(separator)x2\(separator)label:a\(separator)label:b\n" +
            "\"r1\"\(separator)1.5\(separator)-2\(separator)0.25\(separator)0.75\n" +
            "\"r2\"\(separator)\"0\"\(separator)3e2\(separator)1\(separator)0\n"
        try expectSameAsComma(try CSVReader.read(path: temporaryFile(text)).dataset)
        let odd = "id\(separator)x\(separator)label:a\(separator)label:b\n\"a,b;c\"\(separator)1\(separator)1\(separator)0\n"
        #expect(try CSVReader.read(path: temporaryFile(odd)).dataset.ids == ["a,b;c"])
    }

    /// The header decides, separators inside quoted header names do not count, and commas win ties.
    @Test func detectionRules() throws {
        func detect(_ text: String) throws -> UInt8 {
            let path = temporaryFile(text)
            return try CSVDelimiter.detect(InputFile(path: path), from: 0)
        }
        #expect(try detect("a;b;c\n1,5;2;3\n") == UInt8(ascii: ";"))
        #expect(try detect("\"a;b\",c\n") == UInt8(ascii: ","))
        #expect(try detect("a,b;c\n") == UInt8(ascii: ","))
        #expect(try detect("a\tb\tc\r\nx,y,z,w,v\n") == 0x09)
        #expect(try detect("abc\n") == UInt8(ascii: ","))
        // A header longer than one read block.
        let wide = (0..<20_000).map { "feature\($0)" }.joined(separator: ";") + ";label:a;label:b\n"
        #expect(try detect(wide) == UInt8(ascii: ";"))
    }

    /// Forced to the wrong separator, the error names the one the header uses; a decimal comma is named too.
    @Test func errorsNameTheSeparator() throws {
        let semi = temporaryFile(comma.replacingOccurrences(of: ",", with: ";"))
        #expect(throws: DataError.self) { try CSVReader.read(path: semi, delimiter: UInt8(ascii: ",")) }
        do {
            _ = try CSVReader.read(path: semi, delimiter: UInt8(ascii: ","))
        } catch let e as DataError {
            #expect(e.description.hasSuffix("the file looks semicolon-separated, not comma-separated (--delimiter ';')"))
        }
        let decimal = temporaryFile("x1;x2;label:a;label:b\n1,5;2;1;0\n")
        do {
            _ = try CSVReader.read(path: decimal)
            Issue.record("a decimal comma was read")
        } catch let e as DataError {
            #expect(e.description == "\(decimal):2: column 'x1': '1,5' is not a number (a decimal comma? write numbers with a '.')")
        }
        let tab = temporaryFile("x1\tx2\tlabel:a\tlabel:b\n\"1\" x\t2\t1\t0\n")
        do {
            _ = try CSVReader.read(path: tab)
            Issue.record("text after a quote was read")
        } catch let e as DataError {
            #expect(e.description == "\(tab):2: text after a closing quote, expected a tab or end of line")
        }
    }

    /// A `label` column of many distinct numbers in [0, 1] is read as class names, with a warning that points to
    /// `label:<class>` columns; integer classes and names do not warn.
    @Test func probabilityLookingLabelsWarn() throws {
        let probs = try CSVReader.read(path: temporaryFile("x,label\n1,0.12\n2,0.5\n3,0.87\n4,0.5\n"))
        #expect(probs.dataset.classNames == ["0.12", "0.5", "0.87"])
        #expect(probs.warnings.count == 1)
        #expect(probs.warnings[0].hasSuffix("column 'label' holds 3 distinct numbers in [0, 1] (0.12, 0.5, 0.87); they are " +
                                            "read as 3 class names (hard labels). For probabilities, give one 'label:<class>' column per class"))
        for text in ["x,label\n1,0\n2,1\n3,1\n", "x,label\n1,1\n2,2\n3,3\n", "x,label\n1,cat\n2,dog\n3,0.5\n",
                     "x,label\n1,0.2\n2,0.8\n"] {
            #expect(try CSVReader.read(path: temporaryFile(text)).warnings.isEmpty, "\(text)")
        }
    }
}
