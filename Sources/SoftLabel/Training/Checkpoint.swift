import Foundation

/// Everything a training run needs to continue exactly where it stopped (`train --checkpoint FILE`, written
/// atomically at every epoch end and on interrupt; `train --resume FILE`): the weights, the optimizer's
/// moments, the weight average, the best and last good networks, the shuffle generator and order, the
/// position inside the current epoch, the L-BFGS memory, and the history. The configuration and a fingerprint
/// of the data are kept to check that a resumed run trains on the same data with the same settings; a
/// resumed run ends with the same model bytes as an uninterrupted one.
///
/// File layout: the 8 bytes `SLCKPT\r\n`, a little-endian UInt64 header length, the header (JSON: scalars,
/// the configuration, the history and where each array lies), then the arrays as raw little-endian numbers.
public struct Checkpoint: Sendable {
    public static let magic = Array("SLCKPT\r\n".utf8)
    public static let formatVersion = 1

    public var config: TrainConfig
    /// What the data was (sizes, names and a hash of the values): `TrainModel` sets and checks it.
    public var fingerprint: String
    var epochsDone: Int
    var stoppedEarly = false
    var converged = false
    var history: [EpochRecord]
    var lastGoodEpoch: Int
    var lastGood: [[Float]]      // tensors of the last good network, in tensor order
    var best: (loss: Double, epoch: Int, tensors: [[Float]])?
    var sinceBest: Int
    var minibatch: MinibatchState?
    var fullBatch: FullBatchState?

    /// The epoch the run will continue with, and how many of its examples are done (0 at an epoch boundary).
    public var resumesAt: (epoch: Int, examplesDone: Int) { (epochsDone + 1, minibatch?.position ?? 0) }
    public var completedHistory: [EpochRecord] { history }

    struct MinibatchState: Sendable {
        var parameters: [[Float]]
        var optimizer: OptimizerState
        var average: (sums: [[Float]], steps: Int)?
        var shuffleState: UInt64
        var order: [Int]
        var position: Int        // examples of the current epoch already trained on
        var partialLoss: Double  // their summed loss
    }

    struct FullBatchState: Sendable {
        var parameters: [[Float]]
        var theta: [Double]
        var memory: LBFGS.State
        var current: (objective: Double, loss: Double, gradient: [Double])?
    }
}

/// An optimizer's state: one buffer per parameter tensor and kind of moment, and the step count.
public struct OptimizerState: Sendable {
    public var buffers: [[Float]]
    public var step: Int
}

// MARK: - File format

extension Checkpoint {
    private struct Header: Codable {
        var format = "softlabel-checkpoint"
        var version = Checkpoint.formatVersion
        var config: TrainConfig
        var fingerprint: String
        var epochsDone: Int
        var stoppedEarly: Bool
        var converged: Bool
        var history: [EpochRecord]
        var lastGoodEpoch: Int
        var best: Best?
        var sinceBest: Int
        var minibatch: Minibatch?
        var fullBatch: FullBatch?
        var arrays: [String: ArrayEntry] = [:]

        struct Best: Codable { var loss: Double; var epoch: Int }
        struct Minibatch: Codable {
            var optimizerStep: Int
            var averageSteps: Int?
            var shuffleState: UInt64
            var position: Int
            var partialLoss: Double
        }
        struct FullBatch: Codable {
            var memoryPairs: Int
            var current: [Double]?  // objective, loss
        }
    }

    /// Where one array lies after the header: byte offset from the start of the array area, element count
    /// and type ("f32", "f64", "i64").
    private struct ArrayEntry: Codable {
        var offset: Int
        var count: Int
        var type: String
    }

    /// The file's bytes.
    public func encoded() throws -> Data {
        var header = Header(config: config, fingerprint: fingerprint, epochsDone: epochsDone, stoppedEarly: stoppedEarly,
                            converged: converged, history: history, lastGoodEpoch: lastGoodEpoch,
                            best: best.map { Header.Best(loss: $0.loss, epoch: $0.epoch) }, sinceBest: sinceBest)
        var body = Data()
        func put<T>(_ name: String, _ values: [T], _ type: String) {
            header.arrays[name] = ArrayEntry(offset: body.count, count: values.count, type: type)
            values.withUnsafeBytes { body.append(contentsOf: $0) }
            while body.count % 8 != 0 { body.append(0) }
        }
        func putTensors(_ prefix: String, _ tensors: [[Float]]) {
            for (t, values) in tensors.enumerated() { put("\(prefix).\(t)", values, "f32") }
        }
        putTensors("lastGood", lastGood)
        if let best { putTensors("best", best.tensors) }
        if let m = minibatch {
            header.minibatch = .init(optimizerStep: m.optimizer.step, averageSteps: m.average?.steps,
                                     shuffleState: m.shuffleState, position: m.position, partialLoss: m.partialLoss)
            putTensors("parameters", m.parameters)
            putTensors("optimizer", m.optimizer.buffers)
            if let a = m.average { putTensors("average", a.sums) }
            put("order", m.order.map(Int64.init), "i64")
        }
        if let f = fullBatch {
            header.fullBatch = .init(memoryPairs: f.memory.s.count, current: f.current.map { [$0.objective, $0.loss] })
            putTensors("parameters", f.parameters)
            put("theta", f.theta, "f64")
            for i in f.memory.s.indices {
                put("lbfgs.s.\(i)", f.memory.s[i], "f64")
                put("lbfgs.y.\(i)", f.memory.y[i], "f64")
            }
            put("lbfgs.rho", f.memory.rho, "f64")
            if let c = f.current { put("gradient", c.gradient, "f64") }
        }
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        var headerBytes = try encoder.encode(header)
        while (Checkpoint.magic.count + 8 + headerBytes.count) % 8 != 0 { headerBytes.append(0x20) }
        var out = Data(Checkpoint.magic)
        withUnsafeBytes(of: UInt64(headerBytes.count).littleEndian) { out.append(contentsOf: $0) }
        out.append(headerBytes)
        out.append(body)
        return out
    }

    /// Reads a checkpoint file; every inconsistency is an error naming the file, never a trap.
    public static func load(path: String) throws -> Checkpoint {
        guard let data = FileManager.default.contents(atPath: path) else {
            throw DataError(file: path, "cannot read the checkpoint (no such file?)")
        }
        return try decode(data, file: path)
    }

    static func decode(_ data: Data, file: String) throws -> Checkpoint {
        let bytes = [UInt8](data)
        func bad(_ what: String) -> DataError { DataError(file: file, "is not a usable softlabel checkpoint: \(what)") }
        guard bytes.count >= 16, Array(bytes[0..<8]) == Checkpoint.magic else {
            throw DataError(file: file, "is not a softlabel checkpoint (bad magic bytes)")
        }
        var length: UInt64 = 0
        for i in 0..<8 { length |= UInt64(bytes[8 + i]) << (8 * UInt64(i)) }
        guard length <= UInt64(bytes.count - 16) else { throw bad("the header is longer than the file") }
        let headerEnd = 16 + Int(length)
        let header: Header
        do {
            header = try JSONDecoder().decode(Header.self, from: Data(bytes[16..<headerEnd]))
        } catch {
            throw bad("its header does not decode")
        }
        guard header.format == "softlabel-checkpoint", header.version == Checkpoint.formatVersion else {
            throw bad("format '\(header.format)' version \(header.version), expected softlabel-checkpoint \(Checkpoint.formatVersion)")
        }
        let area = headerEnd
        func array<T>(_ name: String, _ type: String, as _: T.Type) throws -> [T] {
            guard let e = header.arrays[name] else { throw bad("array '\(name)' is missing") }
            let size = MemoryLayout<T>.size
            let (byteCount, overflow) = e.count.multipliedReportingOverflow(by: size)
            guard e.type == type, e.offset >= 0, e.count >= 0, !overflow, e.offset <= bytes.count - area,
                  byteCount <= bytes.count - area - e.offset else {
                throw bad("array '\(name)' lies outside the file or has the wrong type")
            }
            return [T](unsafeUninitializedCapacity: e.count) { buffer, initialized in
                bytes.withUnsafeBytes { raw in
                    UnsafeMutableRawPointer(buffer.baseAddress!).copyMemory(from: raw.baseAddress! + area + e.offset, byteCount: byteCount)
                }
                initialized = e.count
            }
        }
        func tensors(_ prefix: String) throws -> [[Float]] {
            var out: [[Float]] = []
            while header.arrays["\(prefix).\(out.count)"] != nil { out.append(try array("\(prefix).\(out.count)", "f32", as: Float.self)) }
            return out
        }
        var c = Checkpoint(config: header.config, fingerprint: header.fingerprint, epochsDone: header.epochsDone,
                           stoppedEarly: header.stoppedEarly, converged: header.converged, history: header.history,
                           lastGoodEpoch: header.lastGoodEpoch, lastGood: try tensors("lastGood"), best: nil,
                           sinceBest: header.sinceBest)
        if let b = header.best { c.best = (b.loss, b.epoch, try tensors("best")) }
        if let m = header.minibatch {
            let order = try array("order", "i64", as: Int64.self).map { Int($0) }
            c.minibatch = MinibatchState(
                parameters: try tensors("parameters"),
                optimizer: OptimizerState(buffers: try tensors("optimizer"), step: m.optimizerStep),
                average: try m.averageSteps.map { (try tensors("average"), $0) },
                shuffleState: m.shuffleState, order: order, position: m.position, partialLoss: m.partialLoss)
        }
        if let f = header.fullBatch {
            guard f.memoryPairs >= 0, f.memoryPairs <= 1000 else { throw bad("L-BFGS memory of \(f.memoryPairs) pairs") }
            var memory = LBFGS.State(s: [], y: [], rho: try array("lbfgs.rho", "f64", as: Double.self))
            for i in 0..<f.memoryPairs {
                memory.s.append(try array("lbfgs.s.\(i)", "f64", as: Double.self))
                memory.y.append(try array("lbfgs.y.\(i)", "f64", as: Double.self))
            }
            guard memory.rho.count == f.memoryPairs else { throw bad("L-BFGS memory sizes disagree") }
            var current: (Double, Double, [Double])?
            if let cur = f.current {
                guard cur.count == 2 else { throw bad("L-BFGS state is malformed") }
                current = (cur[0], cur[1], try array("gradient", "f64", as: Double.self))
            }
            c.fullBatch = FullBatchState(parameters: try tensors("parameters"), theta: try array("theta", "f64", as: Double.self),
                                         memory: memory, current: current)
        }
        guard (c.minibatch == nil) != (c.fullBatch == nil) else { throw bad("it holds no optimizer state") }
        return c
    }

    /// Writes the checkpoint atomically.
    public func write(to path: String) throws {
        try AtomicFile.write(try encoded(), to: path)
    }
}
