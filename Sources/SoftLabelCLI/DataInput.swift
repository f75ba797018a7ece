import Foundation
import SoftLabel

/// The data a command reads: a CSV file named as the positional argument, or an NPY pair named by
/// `--features`/`--labels`. Commands add `DataInput.options` to their spec and call `DataInput.load` once.
enum DataInput {
    /// The options every data-reading command shares.
    static let options: [OptionSpec] = [
        OptionSpec(name: "--features", value: "X.npy", help: "Read features from an NPY array (rows, features) instead of DATA.csv; shards: 'part-*.npy' or @list."),
        OptionSpec(name: "--labels", value: "Y.npy", help: "NPY labels: (rows, classes) probabilities or counts, or (rows,) class indices; shards too."),
        OptionSpec(name: "--teacher-logits", value: "Z.npy", help: "NPY targets as a teacher's logits (rows, classes); --labels then gives hard classes."),
        OptionSpec(name: "--classes", value: "FILE", help: "NPY: class names, one per line. Default 0, 1, ..."),
        OptionSpec(name: "--feature-names", value: "FILE", help: "NPY: feature names, one per line. Default f0, f1, ..."),
        OptionSpec(name: "--delimiter", value: "C", help: "CSV cell separator: , ; tab or |. Default: detected from the header line."),
    ]

    /// Where a data set comes from.
    enum Source {
        /// A CSV file ("-": standard input) and its cell separator (nil: detect it from the header line).
        case csv(String, delimiter: UInt8?)
        case npy(NPYSource)

        /// The file named in notes and errors about the data as a whole.
        var name: String {
            switch self {
            case .csv(let path, _): return path == "-" ? "<stdin>" : path
            case .npy(let s): return s.features
            }
        }
    }

    /// The command's main data: DATA.csv (the one positional argument) or `--features` [`--labels`].
    static func source(_ a: ParsedArguments, needsLabels: Bool, positional: String = "DATA.csv") throws -> Source {
        try checkNPYOptions(a)
        guard let features = a.string("--features") else {
            for flag in ["--labels", "--teacher-logits"] where a.string(flag) != nil {
                throw UsageError("\(flag) is for NPY input and needs --features X.npy")
            }
            if a.string("--val-features") == nil,
               let flag = ["--classes", "--feature-names"].first(where: { a.string($0) != nil }) {
                throw UsageError("\(flag) is for NPY input and needs --features X.npy")
            }
            return .csv(try a.positionals([positional])[0], delimiter: try delimiter(a))
        }
        if let extra = a.positionals.first {
            let hint = extra.hasSuffix(".npy") ? "; the shell expanded a glob: quote it, as in --features 'part-*.npy'" : ""
            throw UsageError("give \(positional) or --features X.npy, not both (unexpected argument '\(extra)'\(hint))")
        }
        if needsLabels && a.string("--labels") == nil && a.string("--teacher-logits") == nil {
            throw UsageError("--labels Y.npy (or --teacher-logits Z.npy) is required with --features (\(a.command) needs labels)")
        }
        return .npy(NPYSource(features: features, labels: a.string("--labels"), classesFile: a.string("--classes"),
                              featureNamesFile: a.string("--feature-names"), teacherLogits: a.string("--teacher-logits")))
    }

    /// Validation data for train: `--val FILE.csv` or `--val-features X.npy` with `--val-labels Y.npy` and/or
    /// `--val-teacher-logits Z.npy`; nil when neither.
    static func validationSource(_ a: ParsedArguments) throws -> Source? {
        let csv = a.string("--val"), features = a.string("--val-features"), labels = a.string("--val-labels")
        let logits = a.string("--val-teacher-logits")
        if csv != nil && (features != nil || labels != nil || logits != nil) {
            throw UsageError("--val and --val-features/--val-labels/--val-teacher-logits cannot be used together")
        }
        if let csv { return .csv(csv, delimiter: try delimiter(a)) }
        if let flag = labels != nil ? "--val-labels" : logits != nil ? "--val-teacher-logits" : nil, features == nil {
            throw UsageError("\(flag) needs --val-features X.npy")
        }
        guard let features else { return nil }
        if labels == nil && logits == nil {
            throw UsageError("--val-features needs --val-labels Y.npy or --val-teacher-logits Z.npy (validation needs labels)")
        }
        return .npy(NPYSource(features: features, labels: labels, classesFile: a.string("--classes"),
                              featureNamesFile: a.string("--feature-names"), teacherLogits: logits))
    }

    /// `--delimiter`: one of , ; | or a tab ("tab" or "\t" spelled out); nil when not given.
    static func delimiter(_ a: ParsedArguments) throws -> UInt8? {
        guard let s = a.string("--delimiter") else { return nil }
        switch s {
        case ",", ";", "|": return s.utf8.first!
        case "tab", "\t", "\\t": return 0x09
        default: throw UsageError("--delimiter expects one of , ; tab |, got '\(s)'")
        }
    }

    private static func checkNPYOptions(_ a: ParsedArguments) throws {
        for flag in ["--features", "--labels", "--teacher-logits", "--classes", "--feature-names", "--val-features", "--val-labels",
                     "--val-teacher-logits"] {
            if a.string(flag)?.isEmpty == true { throw UsageError("\(flag) expects a file name, got ''") }
        }
    }

    /// Parses the data, sends its warnings to stderr.
    /// `opened`: the CSV file already opened (standard input cannot be opened twice).
    static func load(_ source: Source, classes: [String]? = nil, classesOf: String = "the model",
                     labels: LabelMode = .required, parallel: Parallel, console: Console, opened: CSVFile? = nil) throws -> LoadedData {
        let loaded: LoadedData
        switch source {
        case .csv(let path, let delimiter):
            if let opened {
                loaded = try CSVReader.read(file: opened, classes: classes, classesOf: classesOf, labels: labels,
                                            threads: parallel.threads, delimiter: delimiter)
            } else {
                loaded = try CSVReader.read(path: path, classes: classes, classesOf: classesOf, labels: labels,
                                            threads: parallel.threads, delimiter: delimiter)
            }
        case .npy(let s):
            loaded = try NPYReader.read(s, classes: classes, classesOf: classesOf, labels: labels)
        }
        for w in loaded.warnings { console.err("softlabel: warning: \(oneLine(w))\n") }
        return loaded
    }

    /// Runs a prediction on `data`, turning a non-finite one into an input error naming the row (1-based, as
    /// in a CSV file without ids) and its id.
    static func predicting<T>(_ data: Dataset, source: Source, model: String,
                              _ body: () throws(NonFinitePrediction) -> T) throws -> T {
        do {
            return try body()
        } catch {
            let id = data.ids[error.row]
            throw DataError(file: source.name, "row \(error.row + 1)" + (id == String(error.row + 1) ? "" : " (id '\(id)')") +
                            ": the prediction of \(model) is not finite (NaN or infinite logits): a feature value far " +
                            "outside the training data's range, or a model whose numbers overflow")
        }
    }

    /// The data's features in the model's order, with one note when columns are ignored.
    static func features(of data: Dataset, for model: ModelFile, source: Source, console: Console) throws -> Matrix {
        let file = source.name
        let x: Matrix, ignored: [String]
        do {
            (x, ignored) = try model.alignedFeatures(data, file: file)
        } catch var e as DataError {
            if case .npy(let s) = source {
                e.line = nil
                if s.featureNamesFile == nil {
                    e.message += " (NPY features are named f0, f1, ... unless --feature-names FILE is given)"
                }
            }
            throw e
        }
        if !ignored.isEmpty {
            let shown = ignored.prefix(5).map { "'\($0)'" }.joined(separator: ", ")
            console.err("softlabel: note: " + oneLine("\(file): ignoring \(ignored.count) column(s) the model does not use: \(shown)" +
                                                      (ignored.count > 5 ? ", ..." : "")) + "\n")
        }
        return x
    }
}
