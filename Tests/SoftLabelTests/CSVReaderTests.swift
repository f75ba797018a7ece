import Foundation
import Testing
@testable import SoftLabel

/// Writes `text` to a fresh temporary file and returns its path.
func temporaryFile(_ text: String, name: String = "data.csv") -> String {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("softlabel-tests-\(UUID().uuidString)")
    try! FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let path = dir.appendingPathComponent(name).path
    FileManager.default.createFile(atPath: path, contents: Data(text.utf8))
    return path
}

@Suite struct CSVReaderTests {
    @Test func softProbabilityColumnsInAnyOrder() throws {
        let path = temporaryFile("label:dog,x1,id,label:cat,x2\n0.1,1.5,a,0.9,-2\n0.5,0,b,0.5,3e2\n")
        let d = try CSVReader.read(path: path).dataset
        #expect(d.ids == ["a", "b"])
        #expect(d.featureNames == ["x1", "x2"])
        #expect(d.classNames == ["dog", "cat"])
        #expect(d.features.values == [1.5, -2, 0, 300])
        #expect(d.targets.values == [0.1, 0.9, 0.5, 0.5])
    }

    @Test func annotatorCountsAreNormalised() throws {
        let path = temporaryFile("f,label:a,label:b,label:c\n1,40,11,0\n2,0,0,51\n")
        let d = try CSVReader.read(path: path).dataset
        #expect(d.targets.row(0) == [Float(40.0 / 51), Float(11.0 / 51), 0])
        #expect(d.targets.row(1) == [0, 0, 1])
        // No id column: ids are the 1-based data row numbers.
        #expect(d.ids == ["1", "2"])
    }

    @Test func hardLabelColumnIsOneHot() throws {
        let path = temporaryFile("id,f1,label\nr1,0.5,10\nr2,1,2\nr3,2,10\n")
        let d = try CSVReader.read(path: path).dataset
        #expect(d.classNames == ["2", "10"])  // numeric order, not text order
        #expect(d.targets.values == [0, 1, 1, 0, 0, 1])
    }

    @Test func hardLabelsTakeTheModelsClassOrder() throws {
        let path = temporaryFile("f1,label\n0.5,cat\n1,cat\n")
        let d = try CSVReader.read(path: path, classes: ["dog", "cat", "bird"]).dataset
        #expect(d.classNames == ["dog", "cat", "bird"])
        #expect(d.targets.values == [0, 1, 0, 0, 1, 0])
    }

    @Test func softLabelsReorderedToTheModel() throws {
        let path = temporaryFile("f1,label:b,label:a\n0.5,0.25,0.75\n")
        let d = try CSVReader.read(path: path, classes: ["a", "b"]).dataset
        #expect(d.targets.values == [0.75, 0.25])
    }

    @Test func quotedFieldsAndCRLF() throws {
        let path = temporaryFile("\"id\",\"x,1\",label:\"\"q\"\"\r\n\"a \"\"b\"\"\",\"2.5\",1\r\n", name: "q.csv")
        // A quote inside an unquoted header cell is an error; a fully quoted one is fine.
        #expect(throws: DataError.self) { try CSVReader.read(path: path) }
        let ok = temporaryFile("\"id\",\"x,1\",\"label:q\",label:r\r\n\"a \"\"b\"\"\",\"2.5\",1,3\r\n")
        let d = try CSVReader.read(path: ok).dataset
        #expect(d.ids == ["a \"b\""])
        #expect(d.featureNames == ["x,1"])
        #expect(d.targets.values == [0.25, 0.75])
    }

    @Test func predictIgnoresLabelColumns() throws {
        let path = temporaryFile("f1,label:only\n0.5,1\n")
        let d = try CSVReader.read(path: path, labels: .ignored).dataset
        #expect(d.featureNames == ["f1"] && d.classCount == 0)
    }

    @Test func errorsNameFileLineAndColumn() {
        func message(_ text: String) -> String {
            do {
                _ = try CSVReader.read(path: temporaryFile(text))
                return "no error"
            } catch let e as DataError {
                return "line \(e.line.map(String.init) ?? "-") column \(e.column ?? "-"): \(e.message)"
            } catch {
                return "\(error)"
            }
        }
        #expect(message("f,label:a,label:b\n1,x,2\n") == "line 2 column label:a: 'x' is not a number")
        #expect(message("f,label:a,label:b\n1,1\n") == "line 2 column -: has 2 cells, expected 3 (as in the header)")
        #expect(message("f,label:a,label:b\n,1,2\n") == "line 2 column f: empty cell, expected a number")
        #expect(message("f,label:a,label:b\n1,-1,2\n") == "line 2 column label:a: negative label value -1")
        #expect(message("f,label:a,label:b\n1,0,0\n") == "line 2 column -: label cells sum to 0, expected a distribution or counts")
        #expect(message("f,g\n1,2\n") == "line 1 column -: no label columns, expected 'label', 'label:<class>' or 'logit:<class>' columns")
        #expect(message("") == "line - column -: is empty, expected a header row and data rows")
    }
}
