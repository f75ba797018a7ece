import SoftLabel

/// Loading a data set named on the command line, with its warnings sent to stderr.
enum DataInput {
    static func load(_ path: String, classes: [String]? = nil, labels: LabelMode = .required,
                     console: Console) throws -> Dataset {
        let loaded = try CSVReader.read(path: path, classes: classes, labels: labels)
        for w in loaded.warnings { console.err("softlabel: warning: \(w)\n") }
        return loaded.dataset
    }

    /// The data's features in the model's order, with one note when columns are ignored.
    static func features(of data: Dataset, for model: ModelFile, file: String, console: Console) throws -> Matrix {
        let (x, ignored) = try model.alignedFeatures(data, file: file)
        if !ignored.isEmpty {
            let shown = ignored.prefix(5).map { "'\($0)'" }.joined(separator: ", ")
            console.err("softlabel: note: \(file): ignoring \(ignored.count) column(s) the model does not use: \(shown)" +
                        (ignored.count > 5 ? ", ..." : "") + "\n")
        }
        return x
    }
}
