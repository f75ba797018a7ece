import Foundation

/// Summary of the run that produced a model (deterministic: no wall times).
public struct TrainingSummary: Codable, Equatable, Sendable {
    public var examples: Int
    public var validationExamples: Int
    public var epochsRun: Int
    /// The epoch whose weights were saved.
    public var keptEpoch: Int
    public var stoppedEarly: Bool
    /// L-BFGS stopped because the objective no longer decreased.
    public var converged: Bool
    public var finalTrainLoss: Double?
    public var validationLoss: Double?
    public var validationKL: Double?
    public var validationAccuracy: Double?
    /// Per-epoch losses, learning rates and validation metrics (no timings).
    public var history: [EpochRecord]
    /// How the data was streamed, when it did not fit the memory budget (absent when it was in memory).
    public var streaming: StreamingSummary?

    private enum CodingKeys: String, CodingKey {
        case examples, validationExamples, epochsRun, keptEpoch, stoppedEarly, converged, finalTrainLoss
        case validationLoss, validationKL, validationAccuracy, history, streaming
    }

    /// Reads a saved summary; `converged` (added later in version 1) defaults to false.
    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        examples = try c.decode(Int.self, forKey: .examples)
        validationExamples = try c.decode(Int.self, forKey: .validationExamples)
        epochsRun = try c.decode(Int.self, forKey: .epochsRun)
        keptEpoch = try c.decode(Int.self, forKey: .keptEpoch)
        stoppedEarly = try c.decode(Bool.self, forKey: .stoppedEarly)
        converged = try c.decodeIfPresent(Bool.self, forKey: .converged) ?? false
        finalTrainLoss = try c.decodeIfPresent(Double.self, forKey: .finalTrainLoss)
        validationLoss = try c.decodeIfPresent(Double.self, forKey: .validationLoss)
        validationKL = try c.decodeIfPresent(Double.self, forKey: .validationKL)
        validationAccuracy = try c.decodeIfPresent(Double.self, forKey: .validationAccuracy)
        history = try c.decode([EpochRecord].self, forKey: .history)
        streaming = try c.decodeIfPresent(StreamingSummary.self, forKey: .streaming)
    }

    public init(examples: Int, validationExamples: Int, epochsRun: Int, keptEpoch: Int, stoppedEarly: Bool,
                converged: Bool, finalTrainLoss: Double?, validationLoss: Double?, validationKL: Double?, validationAccuracy: Double?,
                history: [EpochRecord]) {
        self.examples = examples
        self.validationExamples = validationExamples
        self.epochsRun = epochsRun
        self.keptEpoch = keptEpoch
        self.stoppedEarly = stoppedEarly
        self.converged = converged
        self.finalTrainLoss = finalTrainLoss
        self.validationLoss = validationLoss
        self.validationKL = validationKL
        self.validationAccuracy = validationAccuracy
        self.history = history
    }
}

/// The geometry of a streamed training run (see `StreamLayout`): what decided its shuffle and validation split.
public struct StreamingSummary: Codable, Equatable, Sendable {
    /// Rows per block (validation holds out whole blocks).
    public var blockRows: Int
    /// Blocks per window (rows are shuffled within a window).
    public var windowBlocks: Int

    public init(blockRows: Int, windowBlocks: Int) {
        self.blockRows = blockRows
        self.windowBlocks = windowBlocks
    }
}

/// A trained model as saved on disk: a versioned JSON document (every key is defined in the README's "Model
/// files" section).
///
/// Holds everything prediction needs (class and feature names, standardisation, layers, temperature) and
/// everything needed to know how it was made (the training configuration and summary).
///
/// Versions: 2 (written now) stores `layers`, each with a `kind`. 1 (the first release) stored
/// `network.layers`, dense layers only, with ReLU implied between them; it still loads, as the same network.
public struct ModelFile: Equatable, Sendable {
    public static let formatName = "softlabel-model"
    public static let currentVersion = 2

    public var format = ModelFile.formatName
    public var version = ModelFile.currentVersion
    public var classes: [String]
    public var features: [String]
    /// z-score parameters applied to features before the network; nil when trained with --no-standardize.
    public var standardization: Standardizer?
    /// Prediction is softmax(z / temperature); 1 unless set by `softlabel calibrate`.
    public var temperature: Float
    public var network: Network
    public var config: TrainConfig
    public var training: TrainingSummary
    /// Set when training was stopped by a signal before its end: where (the model holds the weights of that
    /// moment, or the best validated ones under early stopping). Absent from the file otherwise.
    public var interrupted: Interruption?
    /// How the training targets were made when they did not come from label columns (`train --annotations`);
    /// nil otherwise, and absent from the JSON then (older files decode unchanged).
    public var targets: TargetProvenance?

    public init(classes: [String], features: [String], standardization: Standardizer?, temperature: Float = 1,
                network: Network, config: TrainConfig, training: TrainingSummary, targets: TargetProvenance? = nil) {
        self.classes = classes
        self.features = features
        self.standardization = standardization
        self.temperature = temperature
        self.network = network
        self.config = config
        self.training = training
        self.targets = targets
    }
}

extension ModelFile: Codable {
    private enum CodingKeys: String, CodingKey {
        case format, version, classes, features, standardization, temperature, layers, network, config, training
        case interrupted, targets
    }
    private struct Version1Network: Decodable { var layers: [Dense] }

    public init(from decoder: Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        format = try c.decode(String.self, forKey: .format)
        version = try c.decode(Int.self, forKey: .version)
        classes = try c.decode([String].self, forKey: .classes)
        features = try c.decode([String].self, forKey: .features)
        standardization = try c.decodeIfPresent(Standardizer.self, forKey: .standardization)
        temperature = try c.decode(Float.self, forKey: .temperature)
        if version == 1 {
            let dense = try c.decode(Version1Network.self, forKey: .network).layers
            var layers: [Layer] = []
            for (l, d) in dense.enumerated() {
                layers.append(.dense(d))
                if l < dense.count - 1 { layers.append(.activation(.relu)) }
            }
            if let problem = Network.problem(layers) {
                throw DecodingError.dataCorruptedError(forKey: .network, in: c, debugDescription: problem)
            }
            network = Network(layers: layers)
        } else {
            network = try c.decode(Network.self, forKey: .layers)
        }
        config = try TrainConfig(from: DefaultingDecoder(base: try c.superDecoder(forKey: .config), defaults: TrainConfig()))
        training = try c.decode(TrainingSummary.self, forKey: .training)
        interrupted = try c.decodeIfPresent(Interruption.self, forKey: .interrupted)
        targets = try c.decodeIfPresent(TargetProvenance.self, forKey: .targets)
    }

    /// Always the current version's layout (a version-1 file read and written again becomes version 2).
    public func encode(to encoder: Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        try c.encode(format, forKey: .format)
        try c.encode(ModelFile.currentVersion, forKey: .version)
        try c.encode(classes, forKey: .classes)
        try c.encode(features, forKey: .features)
        try c.encodeIfPresent(standardization, forKey: .standardization)
        try c.encode(temperature, forKey: .temperature)
        try c.encode(network, forKey: .layers)
        try c.encode(config, forKey: .config)
        try c.encode(training, forKey: .training)
        try c.encodeIfPresent(interrupted, forKey: .interrupted)
        try c.encodeIfPresent(targets, forKey: .targets)
    }
}

extension ModelFile {
    /// The JSON text: sorted keys and shortest round-trip number formatting, so the same model always gives
    /// the same bytes and every Float reads back exactly.
    public func encoded() throws -> Data {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var data = try encoder.encode(self)
        data.append(0x0A)
        return data
    }

    public static func decode(_ data: Data, file: String) throws -> ModelFile {
        let decoder = JSONDecoder()
        struct Header: Decodable { var format: String?; var version: Int? }
        guard let header = try? decoder.decode(Header.self, from: data) else {
            throw DataError(file: file, "is not a JSON model file")
        }
        guard header.format == formatName else {
            throw DataError(file: file, "is not a softlabel model (format is \(header.format.map { "'\($0)'" } ?? "missing"))")
        }
        guard let version = header.version else { throw DataError(file: file, "model file has no format version") }
        guard version <= currentVersion else {
            throw DataError(file: file, "model format version \(version) is newer than this softlabel reads (\(currentVersion))")
        }
        guard version >= 1 else {
            throw DataError(file: file, "model format version \(version) is not a valid version (1...\(currentVersion))")
        }
        let model: ModelFile
        do {
            model = try decoder.decode(ModelFile.self, from: data)
        } catch {
            if let (line, column, number) = firstNumberBeyondFloat(data) {
                throw DataError(file: file, line: line, "column \(column): number \(number) is beyond Float's range " +
                                "(±\(Float.greatestFiniteMagnitude)); model numbers are float32")
            }
            throw DataError(file: file, "malformed model file: \(describe(error))")
        }
        try model.validate(file: file)
        return model
    }

    public static func load(path: String) throws -> ModelFile {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DataError(file: path, "cannot read the model file (no such file?)")
        }
        return try decode(data, file: path)
    }

    /// Shapes agree with each other and with the names; names are unique; numbers are finite.
    func validate(file: String) throws {
        for (l, layer) in network.layers.enumerated() {
            guard case .dense(let d) = layer else { continue }
            let size = d.inputs.multipliedReportingOverflow(by: d.outputs)
            guard d.inputs > 0, d.outputs > 0, !size.overflow, d.weight.count == size.partialValue,
                  d.bias.count == d.outputs else {
                throw DataError(file: file, "layer \(l + 1) has inconsistent shapes: \(d.outputs) x \(d.inputs) weights " +
                                "need \(size.overflow ? "more than Int.max" : String(size.partialValue)) values and " +
                                "\(d.outputs) biases; the file has \(d.weight.count) and \(d.bias.count)")
            }
        }
        guard network.inputs == features.count else {
            throw DataError(file: file, "first layer takes \(network.inputs) inputs but the model names \(features.count) features")
        }
        guard network.classes == classes.count else {
            throw DataError(file: file, "last layer has \(network.classes) outputs but the model names \(classes.count) classes")
        }
        for (names, what) in [(features, "feature"), (classes, "class")] {
            var seen = Set<String>()
            if let dup = names.first(where: { !seen.insert($0).inserted }) {
                throw DataError(file: file, "duplicate \(what) name '\(dup)' in the model")
            }
        }
        guard network.isFinite else { throw DataError(file: file, "model weights contain NaN or infinity") }
        if let s = standardization {
            guard s.mean.count == features.count, s.std.count == features.count else {
                throw DataError(file: file, "standardisation has the wrong number of features")
            }
            // A std of 0 marks a constant feature; any other must have a finite reciprocal (1 / 1e-45 overflows).
            if let j = features.indices.first(where: { !s.mean[$0].isFinite || !(s.std[$0] >= 0) || !(s.std[$0] == 0 || (1 / s.std[$0]).isFinite) }) {
                throw DataError(file: file, "standardisation of feature '\(features[j])' is unusable (mean \(s.mean[j]), std \(s.std[j])): " +
                                "expected a finite mean and a std of 0 or at least \(1 / Float.greatestFiniteMagnitude)")
            }
        }
        guard temperature.isNormal, temperature > 0 else {
            throw DataError(file: file, "temperature \(temperature) is not a positive normal number")
        }
    }

    /// Writes the model atomically: a temporary file in the same folder, then rename.
    public func write(to path: String) throws {
        try AtomicFile.write(try encoded(), to: path)
    }
}

/// The first JSON number in `data` whose magnitude exceeds Float's largest, with its 1-based line and column
/// (Foundation's decoder only says "not valid JSON" for it).
private func firstNumberBeyondFloat(_ data: Data) -> (Int, Int, String)? {
    let bytes = [UInt8](data)
    var line = 1, lineStart = 0, i = 0, inString = false
    while i < bytes.count {
        let b = bytes[i]
        if inString {
            if b == UInt8(ascii: "\\") { i += 2; continue }
            if b == UInt8(ascii: "\"") { inString = false }
        } else if b == UInt8(ascii: "\"") {
            inString = true
        } else if b == 0x0A {
            line += 1
            lineStart = i + 1
        } else if b == UInt8(ascii: "-") || (b >= 0x30 && b <= 0x39) {
            var j = i
            while j < bytes.count, "+-0123456789.eE".utf8.contains(bytes[j]) { j += 1 }
            let token = String(decoding: bytes[i..<j], as: UTF8.self)
            if let v = Double(token), abs(v) > Double(Float.greatestFiniteMagnitude) {  // 1e400 is inf: beyond too
                return (line, i - lineStart + 1, token)
            }
            i = j
            continue
        }
        i += 1
    }
    return nil
}

private func describe(_ error: Error) -> String {
    switch error {
    case DecodingError.keyNotFound(let key, let ctx):
        return "missing key '\(path(ctx.codingPath + [key]))'"
    case DecodingError.typeMismatch(_, let ctx), DecodingError.valueNotFound(_, let ctx):
        return "wrong type at '\(path(ctx.codingPath))'"
    case DecodingError.dataCorrupted(let ctx):
        // The decoder's own words say what was wrong ("Number 1e39 is not representable in Swift."); cut to one
        // short line.
        let what = ctx.debugDescription.split(whereSeparator: \.isNewline).first.map { String($0.prefix(120)) } ?? ""
        let location = ctx.codingPath.isEmpty ? "" : " at '\(path(ctx.codingPath))'"
        return "bad value\(location)" + (what.isEmpty ? "" : ": " + what)
    default:
        return "\(error)"
    }
}

private func path(_ keys: [CodingKey]) -> String {
    keys.map { $0.intValue.map { "[\($0)]" } ?? $0.stringValue }.joined(separator: ".")
}
