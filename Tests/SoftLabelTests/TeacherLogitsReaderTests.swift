import Foundation
import Testing
import TestSupport
@testable import SoftLabel

/// The message of a read that must fail, as "line L column C: message" (NPY: "row R column C: message").
private func failure(_ read: () throws -> LoadedData) -> String {
    do {
        _ = try read()
        return "no error"
    } catch let e as DataError {
        return (e.row.map { "row \($0) " } ?? "") + "line \(e.line.map(String.init) ?? "-") column \(e.column ?? "-"): \(e.message)"
    } catch {
        return "\(error)"
    }
}

/// softmax of one row, in Double.
private func softmax(_ z: [Float]) -> [Double] {
    let m = Double(z.max()!)
    let e = z.map { exp(Double($0) - m) }
    let s = e.reduce(0, +)
    return e.map { $0 / s }
}

/// Each entry of `a` within 1e-7 of `b`'s.
private func near(_ a: [Float], _ b: [Double]) -> Bool {
    a.count == b.count && zip(a, b).allSatisfy { abs(Double($0) - $1) <= 1e-7 }
}

/// `logit:<class>` CSV columns and `--teacher-logits` NPY arrays: a teacher's logits as the targets.
@Suite struct TeacherLogitsReaderTests {
    @Test func logitColumnsAreTheTeachersLogits() throws {
        // Unquoted (the parallel path) and quoted (the RFC 4180 path) files read the same.
        for text in ["id,f,logit:b,logit:a\nr1,1,-2.5,0.5\nr2,2,3e1,-1E-2\n",
                     "id,f,\"logit:b\",logit:a\n\"r1\",1,\"-2.5\",0.5\nr2,2,3e1,-1E-2\n"] {
            let d = try CSVReader.read(path: temporaryFile(text)).dataset
            #expect(d.classNames == ["b", "a"] && d.featureNames == ["f"] && d.ids == ["r1", "r2"])
            #expect(d.teacherLogits?.values == [-2.5, 0.5, 30, -0.01])
            #expect(near(d.targets.row(0), softmax([-2.5, 0.5])) && near(d.targets.row(1), softmax([30, -0.01])))
            #expect(d.hardLabels == nil)
        }
        // In the model's class order at eval.
        let d = try CSVReader.read(path: temporaryFile("f,logit:b,logit:a\n1,-2,4\n"), classes: ["a", "b"]).dataset
        #expect(d.teacherLogits?.values == [4, -2] && near(d.targets.row(0), softmax([4, -2])))
    }

    /// A `label` column beside logit columns is the hard class, as a position among the logit classes.
    @Test func labelColumnBesideLogitsIsTheHardClass() throws {
        let path = temporaryFile("f,label,logit:x,logit:y,logit:z\n1,y,0,1,2\n2,x,5,-5,0\n3,z,0,0,0\n")
        let d = try CSVReader.read(path: path).dataset
        #expect(d.classNames == ["x", "y", "z"] && d.hardLabels == [1, 0, 2])
        let eval = try CSVReader.read(path: path, classes: ["z", "y", "x"]).dataset
        #expect(eval.hardLabels == [1, 2, 0] && eval.teacherLogits?.row(1) == [0, -5, 5])
    }

    @Test func predictSkipsLogitColumnsAndInspectReadsThem() throws {
        let path = temporaryFile("f,logit:x,logit:y\n1,nan,2\n")
        let d = try CSVReader.read(path: path, labels: .ignored).dataset
        #expect(d.featureNames == ["f"] && d.classCount == 0 && d.teacherLogits == nil)
        #expect(failure { try CSVReader.read(path: path, labels: .optional) } == "line 2 column logit:x: NaN, expected a finite number")
    }

    @Test func parallelParseMatchesOneThread() throws {
        var text = "id,f,logit:a,logit:b,logit:c,label\n"
        for i in 0..<500 { text += "r\(i),\(i),\(-Double(i) / 7),\(Double(i % 13) - 6.5),1e-3,\(["a", "b", "c"][i % 3])\n" }
        let path = temporaryFile(text)
        let one = try CSVReader.read(path: path, classes: nil, labels: .required, threads: 1, chunkBytes: 1 << 19, chunkRows: 4096).dataset
        let many = try CSVReader.read(path: path, classes: nil, labels: .required, threads: 3, chunkBytes: 512, chunkRows: 7).dataset
        #expect(one.teacherLogits == many.teacherLogits && one.hardLabels == many.hardLabels && one.targets == many.targets)
        #expect(one.teacherLogits?.row(499) == [Float(-499.0 / 7), Float(499 % 13) - 6.5, 1e-3])
        #expect(one.hardLabels?.prefix(4) == [0, 1, 2, 0])
    }

    @Test func csvErrorsNameLineAndColumn() {
        func message(_ text: String, classes: [String]? = nil) -> String {
            failure { try CSVReader.read(path: temporaryFile(text), classes: classes) }
        }
        #expect(message("f,logit:a,logit:b\n1,NaN,2\n") == "line 2 column logit:a: NaN, expected a finite number")
        #expect(message("f,logit:a,logit:b\n1,2,-1e39\n") == "line 2 column logit:b: '-1e39' is infinite or overflows Float")
        #expect(message("f,logit:a,logit:b\n1,2,inf\n") == "line 2 column logit:b: 'inf' is infinite or overflows Float")
        #expect(message("f,logit:a,logit:b\n1,2,\n") == "line 2 column logit:b: empty cell, expected a number")
        #expect(message("f,logit:a,logit:b\n1,x,2\n") == "line 2 column logit:a: 'x' is not a number")
        #expect(message("f,logit:a,logit:b\n1,2\n") == "line 2 column -: has 2 cells, expected 3 (as in the header)")
        #expect(message("f,label:a,logit:a,logit:b\n1,1,2,3\n") ==
                "line 1 column logit:a: both 'label:<class>' and 'logit:<class>' columns, expected one kind of target " +
                "(probabilities, or a teacher's logits)")
        #expect(message("f,logit:a,logit:a\n1,2,3\n") == "line 1 column logit:a: duplicate class 'a' in logit columns")
        #expect(message("f,logit:,logit:a\n1,2,3\n") == "line 1 column logit:: empty class name after 'logit:'")
        #expect(message("f,logit:a\n1,2\n") == "line 1 column -: only one class ('a'), expected at least two")
        #expect(message("f,label,logit:a,logit:b\n1,a,0,0\n2,c,0,0\n") ==
                "line 3 column label: class 'c' is not one of the teacher's classes")
        #expect(message("f,logit:a,logit:b\n1,2,3\n", classes: ["a", "c"]) ==
                "line 1 column -: logit classes differ from the model's: missing 'c'; not in the model 'b'")
        #expect(message("f,label,logit:a,logit:b\n1,c,0,0\n", classes: ["a", "b"]) ==
                "line 2 column label: class 'c' is not one of the model's classes")
    }

    // MARK: NPY

    private func npy(_ values: [Float], _ shape: [Int], _ name: String) throws -> String {
        let path = temporaryFile("", name: name)
        try writeNPY(values, shape: shape, to: path)
        return path
    }

    @Test func npyTeacherLogits() throws {
        let x = try npy([1, 2, 3, 4, 5, 6], [3, 2], "x.npy")
        let z = try npy([0, -1, 2, 10, 10, -3, 0.5, 0.25, 0], [3, 3], "z.npy")
        let d = try NPYReader.read(NPYSource(features: x, teacherLogits: z)).dataset
        #expect(d.classNames == ["0", "1", "2"] && d.ids == ["0", "1", "2"])
        #expect(d.teacherLogits?.values == [0, -1, 2, 10, 10, -3, 0.5, 0.25, 0])
        #expect(near(d.targets.row(1), softmax([10, 10, -3])) && d.hardLabels == nil)
        // --labels with teacher logits: (rows,) hard class indices; named classes; the model's order.
        let y = try npy([2, 0, 1], [3], "y.npy")
        let names = temporaryFile("cat\ndog\nbird\n", name: "classes.txt")
        let h = try NPYReader.read(NPYSource(features: x, labels: y, classesFile: names, teacherLogits: z)).dataset
        #expect(h.classNames == ["cat", "dog", "bird"] && h.hardLabels == [2, 0, 1])
        let m = try NPYReader.read(NPYSource(features: x, labels: y, classesFile: names, teacherLogits: z),
                                   classes: ["bird", "cat", "dog"]).dataset
        #expect(m.hardLabels == [0, 1, 2] && m.teacherLogits?.row(0) == [2, 0, -1])
        // Predict-style reads skip them.
        #expect(try NPYReader.read(NPYSource(features: x, teacherLogits: z), labels: .ignored).dataset.teacherLogits == nil)
    }

    @Test func npyErrorsNameRowAndColumn() throws {
        let x = try npy([1, 2, 3, 4, 5, 6], [3, 2], "x.npy")
        func message(_ z: [Float], _ shape: [Int], labels: String? = nil, model: [String]? = nil) throws -> String {
            let path = try npy(z, shape, "z.npy")
            return failure { try NPYReader.read(NPYSource(features: x, labels: labels, teacherLogits: path), classes: model) }
        }
        #expect(try message([0, 1, 2, .nan, 4, 5], [3, 2]) == "row 1 line - column 1: NaN, expected a finite logit")
        #expect(try message([0, 1, 2, 3, -.infinity, 5], [3, 2]) ==
                "row 2 line - column 0: infinite or too large for Float, expected a finite logit")
        #expect(try message([0, 1, 2], [3]) == "line - column -: has shape (3,), expected 2-D teacher logits (rows, classes)")
        #expect(try message([0, 1, 2, 3], [2, 2]) == "line - column -: has 2 rows, but the features file \(x) has 3")
        #expect(try message([0, 1, 2], [3, 1]) == "line - column -: has shape (3, 1): 1 class(es), expected at least two")
        #expect(try message([0, 1, 2, 3, 4, 5], [3, 2], model: ["a", "b"]) ==
                "line - column -: teacher classes ['0', '1'] differ from the model's ['a', 'b'] (name them with --classes FILE)")
        let soft = try npy([0.5, 0.5, 1, 0, 0, 1], [3, 2], "y.npy")
        #expect(try message([0, 1, 2, 3, 4, 5], [3, 2], labels: soft) ==
                "line - column -: has shape (3, 2); with --teacher-logits the labels are (rows,) hard class indices " +
                "(for --hard-weight), not a second set of soft targets")
        let big = try npy([0, 1, 2], [3], "y.npy")
        #expect(try message([0, 1, 2, 3, 4, 5], [3, 2], labels: big).hasPrefix("row 2 line - column -: class index 2, but "))
    }
}
