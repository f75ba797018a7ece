import Foundation
import Testing
@testable import SoftLabel

/// Training on data streamed from NPY files: the same bytes for any thread count, with or without the
/// read-ahead thread; float16 shards train as their float32 file; an interrupted run resumes to the bytes of
/// the whole run; the full-batch objective is the in-memory one; bad values and changed files are located
/// errors.
@Suite struct StreamingTests {
    /// 5,000 rows (five blocks, the last one short) of 6 features and 3 soft-label classes, every feature
    /// value exactly representable in float16, and the teacher logits the labels came from.
    struct Files {
        let dir: String
        let n = 5000, d = 6, k = 3
        var x: [Float] = []
        var y: [Float] = []
        var z: [Float] = []

        init() throws {
            dir = NSTemporaryDirectory() + "softlabel-stream-\(UUID().uuidString)"
            try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
            var g = TestData(seed: 5)
            x = g.matrix(n, d, scale: 2).values.map { Float(Float16($0)) }
            for i in 0..<n {
                let row = (0..<k).map { c in (0..<d).reduce(Float(0)) { $0 + x[i * d + $1] * Float(($1 + c) % 3) - 1 } / 3 }
                z += row
                let m = row.max()!, e = row.map { exp($0 - m) }, s = e.reduce(0, +)
                y += e.map { $0 / s }
            }
            try write("x.npy", x, columns: d)
            try write("y.npy", y, columns: k)
            try write("z.npy", z, columns: k)
        }

        func write(_ name: String, _ values: [Float], columns: Int?, element: NPYWriter.Element = .float32,
                   rows: Range<Int>? = nil) throws {
            let width = columns ?? 1
            let r = rows ?? 0..<(values.count / width)
            let w = try NPYWriter(path: dir + "/" + name, element: element, rows: r.count, columns: columns)
            try values.withUnsafeBufferPointer { try w.append($0.baseAddress! + r.lowerBound * width, rows: r.count) }
            try w.commit()
        }

        func source(_ features: String = "x.npy", labels: String? = "y.npy", logits: String? = nil) throws -> StreamingSource {
            func at(_ name: String) -> String { name.hasPrefix("@") ? "@" + dir + "/" + name.dropFirst() : dir + "/" + name }
            return try StreamingSource(NPYSource(features: at(features), labels: labels.map(at), teacherLogits: logits.map(at)))
        }
    }

    static func config(_ optimizer: OptimizerKind, hidden: [Int] = []) -> TrainConfig {
        var c = TrainConfig.defaults(hidden: hidden, optimizer: optimizer)
        c.epochs = optimizer == .lbfgs ? 8 : 3
        c.batchSize = 100  // not a divisor of a window: batches straddle windows
        c.valFraction = 0.2
        if !hidden.isEmpty {
            c.dropout = 0.2
            c.classWeight = .balanced
            c.labelSmoothing = 0.05
        }
        return c
    }

    /// `cache`: keep the prepared targets (else they are read and prepared again in every batch).
    static func train(_ source: StreamingSource, _ config: TrainConfig, threads: Int = 2, readAhead: Bool = true,
                      cache: Bool = true, resume: Checkpoint? = nil, control: TrainingControl = TrainingControl(),
                      note: @escaping (String) -> Void = { _ in }) throws -> TrainingRun {
        try TrainModel.runStreaming(source: source, validation: nil, config: config, parallel: Parallel(threads: threads),
                                    initial: nil, resume: resume, control: control, monitor: nil, readAhead: readAhead,
                                    note: note, windowBlocks: 2, targetCacheBytes: cache ? 1 << 30 : 0)
    }

    @Test(arguments: [OptimizerKind.sgd, .adam, .lbfgs])
    func sameBytesForAnyThreadCountWithOrWithoutReadAhead(_ optimizer: OptimizerKind) throws {
        let f = try Files()
        let config = Self.config(optimizer, hidden: optimizer == .adam ? [8] : [])
        let reference = try Self.train(try f.source(), config, threads: 1, readAhead: false, cache: false)
        #expect(reference.validationCount == 1024 && reference.trainCount == 3976)
        #expect(reference.model.training.streaming == StreamingSummary(blockRows: 1024, windowBlocks: 2))
        for (threads, ahead, cache) in [(2, true, true), (4, false, false), (16, true, false), (3, false, true)] {
            let other = try Self.train(try f.source(), config, threads: threads, readAhead: ahead, cache: cache)
            #expect(try other.model.encoded() == reference.model.encoded(),
                    "\(optimizer) threads \(threads) read-ahead \(ahead) target cache \(cache)")
        }
    }

    /// float16 shards of uneven sizes (cut across blocks) with labels in one file, and with labels cut the same
    /// way, train the same bytes as the float32 file of the same values.
    @Test func float16ShardsTrainAsTheirFloat32File() throws {
        let f = try Files()
        let cuts = [0..<1700, 1700..<4200, 4200..<5000]
        for (i, r) in cuts.enumerated() {
            try f.write("part-\(i).npy", f.x, columns: f.d, element: .float16, rows: r)
            try f.write("labels-\(i).npy", f.y, columns: f.k, rows: r)
        }
        try "part-0.npy\npart-1.npy\n\npart-2.npy\n".write(toFile: f.dir + "/list.txt", atomically: true, encoding: .utf8)
        let config = Self.config(.adam, hidden: [8])
        let reference = try Self.train(try f.source(), config).model.encoded()
        #expect(try Self.train(try f.source("part-*.npy"), config).model.encoded() == reference)
        #expect(try Self.train(try f.source("@list.txt", labels: "labels-*.npy"), config).model.encoded() == reference)
        let source = try f.source("part-*.npy")
        #expect(source.features.arrays.map(\.descr) == ["<f2", "<f2", "<f2"] && source.rows == 5000)
    }

    /// Stopped after any minibatch (in any window, with a batch carried over a window boundary), checkpointed
    /// through the file format and resumed: the model of the run that was never stopped.
    @Test(arguments: [(OptimizerKind.adam, 3), (.adam, 47), (.sgd, 41), (.sgd, 79), (.lbfgs, 5)])
    func resumedRunEqualsTheWholeRun(_ optimizer: OptimizerKind, _ stopAfter: Int) throws {
        let f = try Files()
        let config = Self.config(optimizer, hidden: optimizer == .adam ? [8] : [])
        let whole = try Self.train(try f.source(), config)
        var polls = 0
        var saved: Checkpoint?
        let stopping = TrainingControl(shouldStop: { polls += 1; return polls > stopAfter },
                                       onCheckpoint: { saved = try Checkpoint.decode(try $0.encoded(), file: "c") })
        let first = try Self.train(try f.source(), config, threads: 1, control: stopping)
        #expect(first.outcome.interruption != nil)
        let checkpoint = try #require(saved)
        if optimizer != .lbfgs { #expect(checkpoint.resumesAt.examplesDone > 0, "stopped inside an epoch") }
        let resumed = try Self.train(try f.source(), config, threads: 3, resume: checkpoint)
        #expect(try resumed.model.encoded() == whole.model.encoded(), "\(optimizer) stopped after \(stopAfter) polls")
        // A checkpoint of the in-memory run of the same data is refused (it is another run).
        var memorySaved: Checkpoint?
        let data = try NPYReader.read(NPYSource(features: f.dir + "/x.npy", labels: f.dir + "/y.npy")).dataset
        _ = try TrainModel.run(data: data, validation: nil, config: config, parallel: Parallel(threads: 1),
                               control: TrainingControl(shouldStop: { true }, onCheckpoint: { memorySaved = $0 }))
        #expect(throws: CheckpointMismatch.self) { _ = try Self.train(try f.source(), config, resume: memorySaved) }
    }

    /// One full-batch pass over streamed rows is the in-memory objective: the same chunks, the same bits
    /// without standardisation; to rounding with it (its statistics are summed per block).
    @Test func fullBatchPassMatchesInMemory() throws {
        let f = try Files()
        var config = TrainConfig.defaults(hidden: [5], optimizer: .lbfgs)
        config.l2 = 1e-3
        let data = try NPYReader.read(NPYSource(features: f.dir + "/x.npy", labels: f.dir + "/y.npy")).dataset
        var rng = SplitMix64(seed: 9)
        let network = Network.make(inputs: f.d, hidden: [5], classes: f.k, activation: .relu, dropout: 0, rng: &rng)
        for standardize in [false, true] {
            var memory = data
            let standardizer = standardize ? Standardizer(fitting: memory.features) : nil
            standardizer?.apply(to: &memory.features)
            let params = Parameters(network)
            let targets = PreparedTargets(memory, config: config)
            let inMemory = TrainingPointers.with(memory.features, targets) { ptrs in
                FullBatchObjective(config: config, data: ptrs, params: params, parallel: Parallel(threads: 2)).evaluate()
            }
            let source = try f.source()
            let scan = try StreamingScan.run(source, training: { _ in true }, moments: standardize, mass: false,
                                             preparer: TargetPreparer(k: f.k, config: config), parallel: Parallel(threads: 2),
                                             progress: { _ in })
            let set = StreamedSet(source: source, blocks: Array(0..<5), standardizer: scan.moments?.standardizer,
                                  preparer: TargetPreparer(k: f.k, config: config))
            let stream = try RowStream(sources: [source], d: f.d, k: f.k, windowBlocks: 2, maxAlign: 2048, weights: false,
                                   hard: false, parallel: Parallel(threads: 2), readAhead: true, monitor: nil)
            let streamed = try StreamingObjective(config: config, set: set, params: Parameters(network),
                                                  parallel: Parallel(threads: 3), stream: stream, chunk: 2048).evaluate()
            if standardize {
                #expect(close(streamed.objective, inMemory.objective, 1e-6))
                #expect(zip(streamed.gradient, inMemory.gradient).allSatisfy { close($0, $1, 1e-5) })
                let s = try #require(scan.moments?.standardizer), m = try #require(standardizer)
                #expect(zip(s.mean + s.std, m.mean + m.std).allSatisfy { close(Double($0), Double($1), 1e-6) })
            } else {
                #expect(streamed.objective == inMemory.objective && streamed.gradient == inMemory.gradient)
            }
        }
    }

    /// Streamed rows get exactly the targets `PreparedTargets` makes in memory: distillation temperature from
    /// teacher logits, target temperature, smoothing, hard labels (class weights: to rounding, their masses
    /// being summed per block).
    @Test func preparedRowsAreTheInMemoryTargets() throws {
        let f = try Files()
        var config = TrainConfig.defaults(hidden: [], optimizer: .sgd)
        config.distillTemperature = 2
        config.hardWeight = 0.3
        config.targetTemperature = 0.7
        config.labelSmoothing = 0.1
        config.classWeight = .balanced
        let data = try NPYReader.read(NPYSource(features: f.dir + "/x.npy", teacherLogits: f.dir + "/z.npy")).dataset
        let memory = PreparedTargets(data, config: config)
        let source = try f.source(labels: nil, logits: "z.npy")
        var preparer = TargetPreparer(k: f.k, config: config)
        let scan = try StreamingScan.run(source, training: { _ in true }, moments: false, mass: true, preparer: preparer,
                                         parallel: Parallel(threads: 2), progress: { _ in })
        preparer.classWeight = TargetRows.classWeights(mass: scan.mass!, trained: f.n)
        let set = StreamedSet(source: source, blocks: Array(0..<5), standardizer: nil, preparer: preparer)
        let buffer = WindowBuffer(capacity: f.n, d: f.d, kp: paddedWidth(f.k), weights: true, hard: true)
        try source.mapFiles()
        // Rows split as the batch step splits each batch (batches of 100: the last one short) fill the same slots.
        let byBatch = WindowBuffer(capacity: f.n, d: f.d, kp: paddedWidth(f.k), weights: true, hard: true)
        try Array(0..<f.n).withUnsafeBufferPointer { ids in
            try set.gather(ids, into: buffer, scratch: [FillScratch(source: source), FillScratch(source: source)],
                           parallel: Parallel(threads: 2))
            try set.gather(UnsafeBufferPointer(rebasing: ids[0..<4950]), into: byBatch,
                           scratch: (0..<3).map { _ in FillScratch(source: source) }, parallel: Parallel(threads: 3), batch: 100)
        }
        #expect(Array(UnsafeBufferPointer(start: byBatch.x, count: 4950 * f.d)) == Array(UnsafeBufferPointer(start: buffer.x, count: 4950 * f.d)))
        #expect(Array(UnsafeBufferPointer(start: byBatch.p, count: 4950 * paddedWidth(f.k)))
                == Array(UnsafeBufferPointer(start: buffer.p, count: 4950 * paddedWidth(f.k))))
        let kp = paddedWidth(f.k)
        for i in 0..<f.n {
            for j in 0..<kp { #expect(buffer.p[i * kp + j] == memory.padded[i, j]) }
            #expect(buffer.negEntropy[i] == memory.negEntropy[i])
            #expect(buffer.hard![i] == memory.hard![i])
            #expect(close(Double(buffer.weight![i]), Double(memory.weight![i]), 1e-6))
            for j in 0..<f.d { #expect(buffer.x[i * f.d + j] == data.features[i, j]) }
        }
    }

    /// A NaN in the second shard names that shard and its own row; shards that disagree, labels that do not
    /// line up and patterns that match nothing are located errors too.
    @Test func badInputNamesTheShardAndItsRow() throws {
        let f = try Files()
        var x = f.x
        x[2600 * f.d + 3] = .nan
        try f.write("bad-0.npy", x, columns: f.d, rows: 0..<2000)
        try f.write("bad-1.npy", x, columns: f.d, element: .float16, rows: 2000..<5000)
        let config = Self.config(.sgd)
        #expect { _ = try Self.train(try f.source("bad-*.npy"), config) } throws: {
            ($0 as? DataError)?.description == f.dir + "/bad-1.npy: row 600, column 'f3': NaN, expected a finite number"
        }
        try f.write("wide-0.npy", f.x, columns: f.d, rows: 0..<2500)
        try f.write("wide-1.npy", [Float](repeating: 0, count: 2500 * 7), columns: 7)
        #expect { _ = try f.source("wide-*.npy") } throws: {
            ($0 as? DataError)?.description == f.dir + "/wide-1.npy: has shape (2500, 7), but the first shard " + f.dir +
                "/wide-0.npy has shape (2500, 6): every shard needs the same 6 columns"
        }
        try f.write("y-0.npy", f.y, columns: f.k, rows: 0..<2000)
        try f.write("y-1.npy", f.y, columns: f.k, rows: 2000..<5000)
        try f.write("x-0.npy", f.x, columns: f.d, rows: 0..<1999)
        try f.write("x-1.npy", f.x, columns: f.d, rows: 1999..<5000)
        #expect { _ = try f.source("x-*.npy", labels: "y-*.npy") } throws: {
            ($0 as? DataError)?.description == f.dir + "/y-0.npy: has 2000 rows, but its features shard " + f.dir + "/x-0.npy has 1999"
        }
        #expect { _ = try f.source("nothing-*.npy") } throws: {
            ($0 as? DataError)?.message.hasPrefix("matches no files") == true
        }
        try "\n".write(toFile: f.dir + "/empty.txt", atomically: true, encoding: .utf8)
        #expect { _ = try f.source("@empty.txt") } throws: { ($0 as? DataError)?.message.hasPrefix("lists no files") == true }
    }

    /// The rows of a batch the batch step gives each task (and the streamed gather fills on that task): every
    /// row exactly once, in whole chunks, in task order.
    @Test(arguments: [1, 2, 3, 16])
    func batchRowsPerTaskCoverTheBatch(_ threads: Int) {
        for m in [1, 63, 64, 65, 256, 300] {
            let parts = (0..<threads).map { BatchStep.rows(task: $0, of: threads, batch: m) }
            #expect(parts.flatMap { Array($0) } == Array(0..<m), "\(threads) threads, batch \(m)")
            #expect(parts.allSatisfy { $0.isEmpty || $0.lowerBound % BatchStep.chunkRows == 0 })
        }
    }

    /// Glob matches come in byte order of their names; a literal path with glob characters is taken as is.
    @Test func globsSortByName() throws {
        let f = try Files()
        for name in ["p-10.npy", "p-2.npy", "p-01.npy", "[odd].npy"] { try f.write(name, f.x, columns: f.d, rows: 0..<10) }
        #expect(try ShardPattern.expand(f.dir + "/p-*.npy", flag: "--features").map { ($0 as NSString).lastPathComponent }
                == ["p-01.npy", "p-10.npy", "p-2.npy"])
        #expect(try ShardPattern.expand(f.dir + "/[odd].npy", flag: "--features") == [f.dir + "/[odd].npy"])
    }

    /// A shard rewritten or cut short while a run reads it is an error naming it, never a crash.
    @Test func aFileThatChangesWhileReadIsAnError() throws {
        let f = try Files()
        try f.write("c-0.npy", f.x, columns: f.d, rows: 0..<2500)
        try f.write("c-1.npy", f.x, columns: f.d, rows: 2500..<5000)
        let source = try f.source("c-*.npy")
        let path = f.dir + "/c-1.npy"
        let handle = try #require(FileHandle(forWritingAtPath: path))
        try handle.truncate(atOffset: 4000)
        try handle.close()
        #expect { _ = try Self.train(source, Self.config(.sgd)) } throws: {
            ($0 as? DataError)?.description == path + ": changed while being read (it is shorter now)"
        }
        // Cut short while training reads it where it lies (mapped): the fault is caught, the run stops.
        try f.write("c-1.npy", f.x, columns: f.d, rows: 2500..<5000)
        var batches = 0
        let cutting = TrainingControl(onBatch: { _, _, _ in
            batches += 1
            if batches == 3 { truncate(path, 4000) }
        })
        #expect { _ = try Self.train(try f.source("c-*.npy"), Self.config(.sgd), control: cutting) } throws: {
            ($0 as? DataError)?.description == path + ": changed while being read (it is shorter now)"
        }
        #expect(batches >= 3)
        try f.write("c-1.npy", f.x, columns: f.d, rows: 2500..<5000)
        let again = try f.source("c-*.npy")
        usleep(10_000)
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        try bytes.write(to: URL(fileURLWithPath: path))  // the same bytes, written again in place
        #expect { _ = try Self.train(again, Self.config(.sgd)) } throws: {
            let message = ($0 as? DataError)?.description ?? ""
            return message.hasPrefix(path + ": changed while being read")
        }
    }
}
