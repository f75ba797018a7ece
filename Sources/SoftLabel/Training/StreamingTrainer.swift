import Foundation

/// A streamed run cannot do what was asked (a minibatch wider than a window, too few rows to hold out
/// whole blocks): a usage problem for the command line.
public struct StreamingUnsupported: Error, Sendable {
    public var message: String
}

/// Streamed minibatch epochs: the block-wise shuffled order of `StreamShuffle`, consecutive batches of it, each
/// trained by the `MinibatchLoop` as `MinibatchDriver` trains an order in memory. Dropout keys each example by
/// its place in the epoch's order.
final class StreamingMinibatchDriver: EpochDriver {
    let data: StreamedSet
    let loop: MinibatchLoop
    let stream: RowStream
    /// The standardisation folded into the first layer, which then reads the rows as stored (`InputFolding`),
    /// when it can be.
    let folding: InputFolding?

    init(config: TrainConfig, set: StreamedSet, params: Parameters, parallel: Parallel, optimizer: Optimizer, stream: RowStream) {
        self.data = set
        self.stream = stream
        loop = MinibatchLoop(config: config, n: set.rowCount, params: params, parallel: parallel, optimizer: optimizer)
        folding = InputFolding.applies(to: params, standardizer: set.standardizer, scale: set.scale)
            ? InputFolding(d: set.source.featureCount, outputs: params.widths[0], tasks: parallel.threads,
                           standardizer: set.standardizer, scale: set.scale)
            : nil
    }

    var network: Network { loop.network }
    var examplesDone: Int { loop.examplesDone }
    var threads: Int? { loop.chooser.threads }

    func runEpoch(_ epoch: Int, control: TrainingControl) throws -> EpochResult {
        let n = data.rowCount
        let lr = loop.schedule.rate(epoch: epoch)
        loop.startEpoch()
        let shuffle = StreamShuffle(seed: loop.config.seed, epoch: epoch)
        try stream.begin(data, order: shuffle.blockOrder(data.blocks), shuffle: shuffle, align: loop.batch,
                         start: loop.examplesDone, raw: folding != nil)
        let following = StreamShuffle(seed: loop.config.seed, epoch: epoch + 1)
        stream.expect(data, order: following.blockOrder(data.blocks), shuffle: following)
        defer { stream.end() }
        while let run = try stream.next(threads: loop.chooser.threads) {
            var r = 0
            while r < run.rows {
                let m = min(loop.batch, run.rows - r), first = r
                let end = try loop.train(x: run.x.dropping(r), targets: run.targets.dropping(r), m: m, of: n, epoch: epoch,
                                         lr: lr, control: control, folded: folding) { row, column in
                    self.stream.featureError(row: first + row, column: column)
                }
                // A batch that read the files in place: a file cut short under it is found here.
                if stream.readsInPlace { try data.source.checkMappings() }
                if let end { return end }
                r += m
            }
        }
        return loop.finish(n: n, lr: lr)
    }

    /// The position inside the epoch is all a streamed run needs beyond the weights and the optimizer: the
    /// orders are recomputed from the seed and the epoch (the checkpoint's `order` stays empty).
    func save(into c: inout Checkpoint) {
        c.minibatch = loop.state(shuffleState: 0, order: [])
    }

    func restore(_ c: Checkpoint) -> Bool {
        guard let m = c.minibatch, m.order.isEmpty, m.position % loop.batch == 0 else { return false }
        return loop.restore(m, n: data.rowCount)
    }
}

/// The full-batch objective over streamed rows: the training blocks in order, in chunks of `chunk` rows (the
/// chunks `FullBatchObjective` uses in memory), their gradients added in chunk order. One pass per call.
final class StreamingObjective: FullBatchEvaluating {
    let data: StreamedSet
    let params: Parameters
    let stepper: BatchStep
    let work: Workspace
    let chunk: Int
    let stream: RowStream
    private var chooser: ThreadChooser

    init(config: TrainConfig, set: StreamedSet, params: Parameters, parallel: Parallel, stream: RowStream, chunk: Int) {
        self.data = set
        self.params = params
        self.stream = stream
        chooser = ThreadChooser(most: parallel.threads)
        self.chunk = min(chunk, data.rowCount)
        stepper = BatchStep(loss: config.loss, penalty: L2Penalty(l2: config.l2), parallel: parallel)
        work = Workspace(params: params, batch: self.chunk, tasks: parallel.threads)
    }

    var count: Int { data.rowCount }

    func evaluate() throws -> (objective: Double, loss: Double, gradient: [Double]) {
        let n = data.rowCount
        var gradient = [Double](repeating: 0, count: params.sizes.reduce(0, +))
        var total = 0.0
        try stream.forEachChunk(of: data, chunk: chunk, threads: chooser.threads) { x, targets, m in
            total += chooser.run(stepper, full: m == chunk) {
                $0.run(x: x, targets: targets, m: m, divisor: n, params: params, work: work, update: nil)
            }
            params.addGradients(to: &gradient)
        }
        let loss = total / Double(n)
        let penalty = stepper.penalty.add(to: &gradient, theta: params.flat, shapes: params.shapes)
        return (loss + penalty, loss, gradient)
    }
}

extension RowStream {
    /// Every block of `data`, in order, as consecutive chunks of at most `chunk` rows: body(x, targets, rows).
    /// The one pass of the full-batch objective and of validation.
    func forEachChunk(of data: StreamedSet, chunk: Int, threads: Int? = nil, _ body: (Rows, LossTargets, Int) -> Void) throws {
        try begin(data, order: data.blocks, shuffle: nil, align: chunk, start: 0)
        defer { end() }
        while let run = try next(threads: threads) {
            var r = 0
            while r < run.rows {
                let m = min(chunk, run.rows - r)
                body(run.x.dropping(r), run.targets.dropping(r), m)
                r += m
            }
        }
    }
}

/// Validation over streamed rows (held-out blocks, or a separate streamed file), in chunks, as `Validator`.
final class StreamingValidator: Validating {
    let data: StreamedSet
    let params: Parameters
    let work: Workspace
    let stepper: BatchStep
    let chunk: Int
    let stream: RowStream

    init(set: StreamedSet, structure: Network, loss: LossKind, parallel: Parallel, stream: RowStream, chunk: Int) {
        self.data = set
        self.stream = stream
        params = Parameters(structure)
        self.chunk = min(chunk, max(data.rowCount, 1))
        work = Workspace(params: params, batch: self.chunk, tasks: parallel.threads)
        stepper = BatchStep(loss: loss, penalty: L2Penalty(l2: 0), parallel: parallel)
    }

    func evaluate(_ network: Network, threads: Int?) throws -> (loss: Double, kl: Double, accuracy: Double) {
        params.load(network)
        let stepper = self.stepper.limited(to: threads)
        var sums = (loss: 0.0, kl: 0.0, hits: 0)
        try stream.forEachChunk(of: data, chunk: chunk, threads: threads) { x, targets, m in
            let part = stepper.evaluate(x: x, targets: targets, m: m, params: params, work: work)
            sums.loss += part.loss
            sums.kl += part.kl
            sums.hits += part.hits
        }
        let nn = Double(max(data.rowCount, 1))
        return (sums.loss / nn, sums.kl / nn, Double(sums.hits) / nn)
    }
}

extension TrainModel {
    /// Blocks of `blocks` held out for validation at `fraction` (at least one, leaving at least one), seeded as
    /// `Dataset.splitRows` is, but over whole blocks: (training, validation), both ascending.
    static func splitBlocks(_ blocks: Int, fraction: Double, seed: UInt64) -> (train: [Int], validation: [Int]) {
        var rng = SplitMix64(seed: seed).derived(3)
        var order = Array(0..<blocks)
        rng.shuffle(&order)
        let m = min(max(Int((fraction * Double(blocks)).rounded()), 1), blocks - 1)
        return (Array(order[m...]).sorted(), Array(order[..<m]).sorted())
    }

    /// `run` for data streamed from files (`StreamingSource`) instead of held in memory: the same training,
    /// with the block-wise shuffle of `StreamLayout`, validation on held-out blocks (or a separate streamed
    /// file), and the standardisation statistics of one streaming pass over the training blocks, made before
    /// the first epoch together with every check of the data.
    ///
    /// - Parameters:
    ///   - readAhead: fill the next window on a thread of its own while the current one trains (else on every
    ///     core when it is needed).
    ///   - monitor: counts the bytes read (the progress bar's read rate).
    ///   - targetCacheBytes: the training rows' prepared targets are kept in memory when they take at most
    ///     this (the validation rows': a quarter of it); else they are read and prepared again every epoch.
    ///   - note: messages for the user (the data scan, label warnings).
    public static func runStreaming(
        source: StreamingSource, validation: StreamingSource?, config: TrainConfig, parallel: Parallel,
        initial: ModelFile? = nil, resume: Checkpoint? = nil, control: TrainingControl = TrainingControl(),
        monitor: StreamingMonitor? = nil, readAhead: Bool = true, targetCacheBytes: Int = 256 << 20,
        note: (String) -> Void = { _ in }
    ) throws -> TrainingRun {
        try runStreaming(source: source, validation: validation, config: config, parallel: parallel, initial: initial,
                         resume: resume, control: control, monitor: monitor, readAhead: readAhead, note: note,
                         windowBlocks: StreamLayout.windowBlocks(features: source.featureCount), targetCacheBytes: targetCacheBytes)
    }

    /// `windowBlocks`: blocks per window (tests make it small to cross many windows on little data).
    static func runStreaming(
        source: StreamingSource, validation: StreamingSource?, config: TrainConfig, parallel: Parallel,
        initial: ModelFile?, resume: Checkpoint?, control: TrainingControl, monitor: StreamingMonitor?, readAhead: Bool,
        note: (String) -> Void, windowBlocks: Int, targetCacheBytes: Int = 256 << 20
    ) throws -> TrainingRun {
        let n = source.rows, d = source.featureCount, k = source.classCount
        let blocks = StreamLayout.blockCount(n)
        let windowRows = windowBlocks * StreamLayout.blockRows
        var trainBlocks = Array(0..<blocks), validationBlocks: [Int] = []
        if validation == nil && config.valFraction > 0 {
            guard blocks >= 2 else {
                throw StreamingUnsupported(message: "\(n) rows are too few to hold out whole blocks of \(StreamLayout.blockRows) " +
                                           "rows for validation: use --val-fraction 0 or a larger --memory")
            }
            (trainBlocks, validationBlocks) = splitBlocks(blocks, fraction: config.valFraction, seed: config.seed)
        }
        if config.optimizer != .lbfgs && config.batchSize > windowRows {
            throw StreamingUnsupported(message: "--batch-size \(config.batchSize) is larger than a streaming window " +
                                       "(\(windowRows) rows of \(d) features); use at most \(windowRows)")
        }
        let held = Set(validationBlocks)
        var preparer = TargetPreparer(k: k, config: config)
        let fitStandardizer = initial == nil && config.standardize
        let started = DispatchTime.now().uptimeNanoseconds
        let scan = try StreamingScan.run(source, training: { !held.contains($0) }, moments: fitStandardizer,
                                         mass: config.classWeight == .balanced, preparer: preparer, parallel: parallel,
                                         progress: { monitor?.add(0); _ = $0 })
        let seconds = Double(DispatchTime.now().uptimeNanoseconds - started) / 1e9
        monitor?.add(source.bytesPerPass)
        note("scanned \(source.name): \(MemoryBudget.format(source.bytesPerPass)) in \(String(format: "%.1f", seconds)) s " +
             "(\(rate(source.bytesPerPass, seconds))): checks, standardisation statistics, fingerprint")
        if let w = scan.labelStats.warning(file: source.labels?.path ?? source.name) { note("warning: " + w) }
        let standardizer = initial?.standardization ?? (fitStandardizer ? scan.moments!.standardizer : nil)
        let trainSet0 = StreamedSet(source: source, blocks: trainBlocks, standardizer: standardizer, preparer: preparer)
        let trainCount = trainSet0.rowCount
        if let mass = scan.mass { preparer.classWeight = TargetRows.classWeights(mass: mass, trained: trainCount) }
        let trainSet = try StreamedSet(source: source, blocks: trainBlocks, standardizer: standardizer, preparer: preparer)
            .withTargetCache(limit: targetCacheBytes, parallel: parallel)

        var fingerprint = "streamed in blocks of \(StreamLayout.blockRows) rows, windows of \(windowBlocks) blocks; " + scan.fingerprint
        var validationSet: StreamedSet?
        if let validation {
            let vscan = try StreamingScan.run(validation, training: { _ in false }, moments: false, mass: false,
                                              preparer: preparer, parallel: parallel, progress: { _ in })
            monitor?.add(validation.bytesPerPass)
            if let w = vscan.labelStats.warning(file: validation.labels?.path ?? validation.name) { note("warning: " + w) }
            fingerprint += "; validation " + vscan.fingerprint
            validationSet = try StreamedSet(source: validation, blocks: Array(0..<StreamLayout.blockCount(validation.rows)),
                                            standardizer: standardizer, preparer: .validation(k: k))
                .withTargetCache(limit: targetCacheBytes / 4, parallel: parallel)
        } else if !validationBlocks.isEmpty {
            validationSet = try StreamedSet(source: source, blocks: validationBlocks, standardizer: standardizer,
                                            preparer: .validation(k: k))
                .withTargetCache(limit: targetCacheBytes / 4, parallel: parallel)
        }

        let network: Network
        if let initial {
            network = initial.network
        } else {
            var rng = SplitMix64(seed: config.seed).derived(1)
            network = Network.make(inputs: d, hidden: config.hidden, classes: k, activation: config.activation,
                                   dropout: config.dropout, rng: &rng)
        }
        let params = Parameters(network)
        let chunk = min(2048, windowRows)
        let batch = min(config.batchSize, trainCount)
        let stream = try RowStream(sources: [source] + (validation.map { [$0] } ?? []), d: d, k: k, windowBlocks: windowBlocks,
                               maxAlign: max(batch, chunk), weights: preparer.classWeight != nil,
                               hard: preparer.hardLabels, parallel: parallel, readAhead: readAhead, monitor: monitor)
        let validator = validationSet.map {
            StreamingValidator(set: $0, structure: network, loss: config.loss, parallel: parallel, stream: stream, chunk: chunk)
        }
        let sizes = params.sizes
        let driver: EpochDriver
        switch config.optimizer {
        case .lbfgs:
            driver = FullBatchDriver(objective: StreamingObjective(config: config, set: trainSet, params: params, parallel: parallel,
                                                                   stream: stream, chunk: chunk), params: params)
        case .sgd:
            driver = StreamingMinibatchDriver(config: config, set: trainSet, params: params, parallel: parallel,
                                              optimizer: SGD(sizes: sizes, momentum: config.momentum, nesterov: config.nesterov),
                                              stream: stream)
        case .adam:
            driver = StreamingMinibatchDriver(config: config, set: trainSet, params: params, parallel: parallel,
                                              optimizer: Adam(sizes: sizes, beta1: config.beta1, beta2: config.beta2,
                                                              epsilon: config.epsilon), stream: stream)
        case .adamw:
            driver = StreamingMinibatchDriver(config: config, set: trainSet, params: params, parallel: parallel,
                                              optimizer: Adam(sizes: sizes, beta1: config.beta1, beta2: config.beta2,
                                                              epsilon: config.epsilon, weightDecay: config.weightDecay),
                                              stream: stream)
        }
        if config.optimizer != .lbfgs, InputFolding.fits(params), let standardizer,
           let (j, deviations) = InputFolding.farthest(standardizer, scale: trainSet.scale) {
            note("feature '\(source.featureNames[j])' has its mean \(String(format: "%.0f", deviations)) standard deviations " +
                 "from 0: the streamed rows are standardised as they are read, slower than with the standardisation " +
                 "folded into the first layer, which needs every feature's mean within \(Int(InputFolding.limit)) of them")
        }
        var loop = EpochLoop(config: config, driver: driver, params: params, initial: network, validator: validator,
                             fingerprint: fingerprint, examplesPerEpoch: trainCount)
        if let resume { try loop.restore(resume) }
        let outcome = try loop.run(control)
        let validationCount = validationSet?.rowCount ?? 0
        let kept = outcome.history.first { $0.epoch == outcome.keptEpoch }
        var summary = TrainingSummary(
            examples: trainCount, validationExamples: validationCount, epochsRun: outcome.history.count,
            keptEpoch: outcome.keptEpoch, stoppedEarly: outcome.stoppedEarly, converged: outcome.converged,
            finalTrainLoss: kept?.trainLoss, validationLoss: kept?.valLoss, validationKL: kept?.valKL,
            validationAccuracy: kept?.valAccuracy, history: outcome.history)
        summary.streaming = StreamingSummary(blockRows: StreamLayout.blockRows, windowBlocks: windowBlocks)
        var model = ModelFile(classes: source.classNames, features: source.featureNames, standardization: standardizer,
                              network: outcome.network, config: config, training: summary)
        model.interrupted = outcome.interruption
        return TrainingRun(model: model, outcome: outcome, trainCount: trainCount, validationCount: validationCount)
    }

    /// "512 MiB/s" for people.
    public static func rate(_ bytes: Int, _ seconds: Double) -> String {
        MemoryBudget.format(Int(Double(bytes) / max(seconds, 1e-9))) + "/s"
    }
}
