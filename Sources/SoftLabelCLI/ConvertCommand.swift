import Foundation
import SoftLabel

/// `softlabel convert`: a CSV data file as NPY arrays and text files, in one streaming pass, so a CSV file
/// larger than memory can be trained on (streamed) and read fast.
enum ConvertCommand: Command {
    static let spec = CommandSpec(
        name: "convert",
        usage: ["convert DATA.csv --out DIR [--float16]"],
        summary: "Write a CSV data file as NPY features, labels, ids and names (one streaming pass, any size).",
        positionals: [("DATA.csv", "data in the CSV format ('-': standard input)")],
        options: [
            OptionSpec(name: "--out", value: "DIR", help: "The folder to write into (made if missing). Required."),
            OptionSpec(name: "--float16", value: nil, help: "Store features as float16 (half the size; values rounded to float16)."),
            OptionSpec(name: "--delimiter", value: "C", help: "CSV cell separator: , ; tab or |. Default: detected from the header line."),
            Common.threads,
        ],
        notes: [
            "Writes into DIR:",
            "  features.npy        (rows, features) float32, or float16 with --float16",
            "  feature_names.txt   the feature columns' names, one per line",
            "  labels.npy          label:<class> columns as written (rows, classes) float32 (counts stay counts),",
            "                      or a 'label' column as (rows,) int64 indices into classes.txt",
            "  teacher_logits.npy  logit:<class> columns (rows, classes) float32",
            "  classes.txt         the class names, one per line",
            "  ids.txt             the id column (or the data rows' numbers from 1), one per line",
            "Each file appears only when complete. The data trains as the CSV file does: the same model bytes.",
        ])

    static func run(_ a: ParsedArguments, _ console: Console) throws {
        guard let dir = a.string("--out") else { throw UsageError("--out DIR is required (the folder to write into)") }
        if dir.isEmpty { throw UsageError("--out expects a folder name, got ''") }
        let path = try a.positionals(["DATA.csv"])[0]
        let half = a.flag("--float16")
        let parallel = try Common.parallel(a, console)
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: dir, isDirectory: &isDir) {
            if !isDir.boolValue { throw DataError(file: dir, "cannot write into it: it is a file, expected a folder") }
        } else {
            do {
                try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: false)
            } catch {
                throw DataError(file: dir, "cannot make the folder: \((error as NSError).localizedDescription)")
            }
        }
        let started = DispatchTime.now().uptimeNanoseconds
        let reader = try CSVChunkedReader(path: path, classes: nil, labels: .optional, threads: parallel.threads,
                                          delimiter: try DataInput.delimiter(a))
        reader.keepRawLabels = true
        let n = try reader.rowCount()
        let d = reader.featureNames.count, k = reader.classNames.count
        func file(_ name: String) -> String { (dir as NSString).appendingPathComponent(name) }
        for name in reader.featureNames where name.contains(where: \.isNewline) {
            throw DataError(file: reader.name, line: 1, column: name, "a feature name with a line break cannot be written one per line")
        }

        let features = try NPYWriter(path: file("features.npy"), element: half ? .float16 : .float32, rows: n, columns: d)
        let soft = reader.hasSoftLabels ? try NPYWriter(path: file("labels.npy"), element: .float32, rows: n, columns: k) : nil
        let logits = reader.readsLogits ? try NPYWriter(path: file("teacher_logits.npy"), element: .float32, rows: n, columns: k) : nil
        let hard = reader.hasHardLabels ? try NPYWriter(path: file("labels.npy"), element: .int64, rows: n, columns: nil) : nil
        let ids = try AtomicFileWriter(path: file("ids.txt"))
        // Hard-label classes numbered as first met, renumbered into the final order at the end.
        var firstSeen: [String: Int64] = [:]
        var seenOrder: [String] = []
        var rows = 0
        while let chunk = try reader.next() {
            if half {
                try chunk.features.values.withUnsafeBufferPointer { v in
                    for (i, x) in v.enumerated() where abs(x) >= 65520 {
                        throw DataError(file: reader.name, "data row \(chunk.firstRow + i / d + 1), column '\(reader.featureNames[i % d])': " +
                                        "\(x) does not fit float16 (largest 65504); convert without --float16")
                    }
                }
            }
            try chunk.features.values.withUnsafeBufferPointer { try features.append($0.baseAddress!, rows: chunk.count) }
            if let soft, let t = chunk.targets {
                try t.values.withUnsafeBufferPointer { try soft.append($0.baseAddress!, rows: chunk.count) }
            }
            if let logits, let z = chunk.logits {
                try z.values.withUnsafeBufferPointer { try logits.append($0.baseAddress!, rows: chunk.count) }
            }
            if let hard, let names = chunk.hardNames {
                var index: [Int64] = []
                index.reserveCapacity(names.count)
                for name in names {
                    if let i = firstSeen[name] {
                        index.append(i)
                    } else {
                        firstSeen[name] = Int64(seenOrder.count)
                        seenOrder.append(name)
                        index.append(Int64(seenOrder.count - 1))
                    }
                }
                try hard.append(index)
            }
            var text = ""
            for id in chunk.ids {
                if id.contains(where: \.isNewline) {
                    throw DataError(file: reader.name, column: "id", "id '\(id.prefix(40))' holds a line break; ids.txt has one id per line")
                }
                text += id + "\n"
            }
            try ids.write(text)
            rows += chunk.count
        }
        for w in reader.warnings { console.err("softlabel: warning: \(w)\n") }

        var classes = reader.classNames
        if let hard {
            // The order a CSV file's hard labels get when it is read whole (numeric, else Unicode order).
            if !reader.readsLogits { classes = orderedClassNames(Set(seenOrder)) }
            let position = Dictionary(uniqueKeysWithValues: classes.enumerated().map { ($1, Int64($0)) })
            try hard.remap(seenOrder.map { position[$0]! })
        }
        for name in classes where name.contains(where: \.isNewline) {
            throw DataError(file: reader.name, line: 1, "class name '\(name)' holds a line break; classes.txt has one name per line")
        }
        try features.commit()
        try soft?.commit()
        try logits?.commit()
        try hard?.commit()
        try ids.commit()
        try AtomicFile.write(Data((reader.featureNames.joined(separator: "\n") + "\n").utf8), to: file("feature_names.txt"))
        if !classes.isEmpty { try AtomicFile.write(Data((classes.joined(separator: "\n") + "\n").utf8), to: file("classes.txt")) }

        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        var written = ["features.npy (\(rows) x \(d), \(half ? "float16" : "float32"))", "feature_names.txt"]
        if soft != nil { written.append("labels.npy (\(rows) x \(k) label values)") }
        if logits != nil { written.append("teacher_logits.npy (\(rows) x \(k))") }
        if hard != nil { written.append("labels.npy (\(rows) class indices)") }
        if !classes.isEmpty { written.append("classes.txt (\(classes.count) classes)") }
        written.append("ids.txt")
        var out = "converted \(reader.name): \(rows) rows in \(String(format: "%.1f", seconds)) s " +
            "(\(String(format: "%.0f", Double(reader.size) / 1e6 / max(seconds, 1e-9))) MB/s)\n"
        out += "wrote into \(dir): " + written.joined(separator: ", ") + "\n"
        var trainLine = "softlabel train --features \(file("features.npy"))"
        if soft != nil || (hard != nil && logits == nil) { trainLine += " --labels \(file("labels.npy"))" }
        if logits != nil {
            trainLine += " --teacher-logits \(file("teacher_logits.npy"))"
            if hard != nil { trainLine += " --labels \(file("labels.npy"))" }
        }
        if !classes.isEmpty { trainLine += " --classes \(file("classes.txt"))" }
        trainLine += " --feature-names \(file("feature_names.txt")) --model MODEL.json"
        out += "train on it with: " + trainLine + "\n"
        console.out(out)
    }
}
