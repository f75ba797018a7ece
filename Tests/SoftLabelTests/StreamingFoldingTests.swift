import Foundation
import Testing
@testable import SoftLabel

/// Streamed training with the standardisation folded into the first layer (`InputFolding`): the same bytes from
/// rows read in place and rows gathered as stored, the step's loss and gradient against standardised rows, the
/// first bad input found, and the data that is not folded.
extension StreamingTests {
    /// Rows read where they lie in a float32 file, the standardisation folded into the first layer
    /// (`InputFolding`), train the bytes of the same values gathered from a float16 file first (folded too); a
    /// NaN found there names its file and row as the gather does. Data whose folding would round far from the
    /// standardised rows' (a feature's mean over 16 standard deviations from 0) is gathered standardised
    /// instead, and trains the same bytes from float16 and float32 too.
    @Test(arguments: [(OptimizerKind.sgd, [Int]()), (.adam, [8]), (.sgd, [4, 8])])
    func foldedRowsInPlaceTrainAsGatheredRows(_ optimizer: OptimizerKind, _ hidden: [Int]) throws {
        let f = try Files()
        try f.write("x16.npy", f.x, columns: f.d, element: .float16)
        let inPlace = try f.source(), gathered = try f.source("x16.npy")
        try inPlace.mapFiles()
        try gathered.mapFiles()
        #expect(inPlace.featureBase() != nil && gathered.featureBase() == nil)
        let config = Self.config(optimizer, hidden: hidden)
        var rng = SplitMix64(seed: 1)
        let network = Network.make(inputs: f.d, hidden: hidden, classes: f.k, dropout: config.dropout, rng: &rng)
        let data = try NPYReader.read(NPYSource(features: f.dir + "/x.npy", labels: f.dir + "/y.npy")).dataset
        let fitted = Standardizer(fitting: data.features)
        #expect(InputFolding.applies(to: Parameters(network), standardizer: fitted, scale: fitted.std.map(Standardizer.scale(ofStd:))))
        for threads in [1, 3] {
            #expect(try Self.train(try f.source(), config, threads: threads).model.encoded()
                    == Self.train(try f.source("x16.npy"), config, threads: threads).model.encoded(), "\(optimizer) \(hidden)")
        }
        // Read in place from float32 shards of uneven sizes (each row's place found through its shard) as from one file.
        for (i, r) in [0..<1700, 1700..<4200, 4200..<5000].enumerated() { try f.write("p32-\(i).npy", f.x, columns: f.d, rows: r) }
        let shards = try f.source("p32-*.npy")
        try shards.mapFiles()
        #expect(shards.featureBase() != nil && shards.features.arrays.count == 3)
        #expect(try Self.train(try f.source("p32-*.npy"), config, threads: 3).model.encoded()
                == Self.train(try f.source(), config, threads: 3).model.encoded(), "\(optimizer) \(hidden) shards")
        // A NaN is found by the scan before any batch; the check behind it is `foldedStepNotesTheFirstBadInput`.
        var x = f.x
        x[3100 * f.d + 2] = .nan
        try f.write("nan.npy", x, columns: f.d)
        #expect { _ = try Self.train(try f.source("nan.npy"), config) } throws: {
            ($0 as? DataError)?.description == f.dir + "/nan.npy: row 3100, column 'f2': NaN, expected a finite number"
        }
        // Feature 1 moved 64 units away (about 32 of its standard deviations; rounded to float16): not folded.
        let moved = f.x.enumerated().map { $0.offset % f.d == 1 ? Float(Float16($0.element + 64)) : $0.element }
        try f.write("moved.npy", moved, columns: f.d)
        try f.write("moved16.npy", moved, columns: f.d, element: .float16)
        let far = Standardizer(fitting: Matrix(rows: f.n, cols: f.d, values: moved))
        #expect(!InputFolding.applies(to: Parameters(network), standardizer: far, scale: far.std.map(Standardizer.scale(ofStd:))))
        var notes: [String] = []
        #expect(try Self.train(try f.source("moved.npy"), config, threads: 3, note: { notes.append($0) }).model.encoded()
                == Self.train(try f.source("moved16.npy"), config, threads: 3).model.encoded(), "\(optimizer) \(hidden) moved")
        // The run says why it is slower.
        #expect(notes.contains { $0.hasPrefix("feature 'f1' has its mean 3") && $0.contains("within 16") }, "\(notes)")
        notes = []
        _ = try Self.train(try f.source(), config, threads: 3, note: { notes.append($0) })
        #expect(!notes.contains { $0.hasPrefix("feature ") }, "\(notes)")
    }

    /// A folded batch step (`InputFolding`: rows read unstandardised through an index, the standardisation folded
    /// into the first layer) gives the loss and the gradient of the same step on those rows given standardised,
    /// to rounding, and notes the first non-finite standardised input in batch order, for any thread count.
    @Test(arguments: [(1, [Int]()), (3, []), (3, [4])])
    func foldedStepNotesTheFirstBadInput(_ threads: Int, _ hidden: [Int]) throws {
        let f = try Files()
        let data = try NPYReader.read(NPYSource(features: f.dir + "/x.npy", labels: f.dir + "/y.npy")).dataset
        let m = 200, d = f.d
        let mean: [Float] = (0..<d).map { Float($0) * 0.25 - 0.5 }, std: [Float] = (0..<d).map { Float($0) + 0.75 }
        let scale = std.map { 1 / $0 }
        let order = (0..<m).map { ($0 * 37) % f.n }
        var standardised = [Float](repeating: 0, count: m * d)
        for r in 0..<m { for j in 0..<d { standardised[r * d + j] = (data.features[order[r], j] - mean[j]) * scale[j] } }
        var rng = SplitMix64(seed: 3)
        let network = Network.make(inputs: d, hidden: hidden, classes: f.k, rng: &rng)
        let config = Self.config(.sgd)
        func gradients(_ params: Parameters) -> [Float] {
            (0..<params.shapes.count).flatMap { i in (0..<params.sizes[i]).map { params.grads[i][$0] } }
        }
        func step(_ bad: [(row: Int, column: Int, value: Float)]) -> (loss: Double, grads: [Float], first: (Int, Int)?) {
            var local = data
            for b in bad { local.features[order[b.row], b.column] = b.value }
            let targets = PreparedTargets(local, config: config)
            let params = Parameters(network)
            let folding = InputFolding(d: d, outputs: params.widths[0], tasks: threads,
                                       standardizer: Standardizer(mean: mean, std: std), scale: scale)
            return TrainingPointers.with(local.features, targets) { ptrs in
                order.withUnsafeBufferPointer { idx in
                    var t = ptrs.targets
                    t.p = Rows(base: t.p.base, stride: t.p.stride, index: idx.baseAddress!)
                    t.index = idx.baseAddress!
                    let stepper = BatchStep(loss: config.loss, penalty: L2Penalty(l2: 0), parallel: Parallel(threads: threads))
                    let loss = stepper.run(x: Rows(base: ptrs.x, stride: d, index: idx.baseAddress!), targets: t, m: m,
                                           params: params, work: Workspace(params: params, batch: m, tasks: threads),
                                           update: nil, folded: folding)
                    return (loss, gradients(params), folding.firstBad())
                }
            }
        }
        let clean = step([])
        #expect(clean.first == nil)
        // The same step on the rows given standardised, in memory, unfolded.
        let params = Parameters(network)
        var given = data.subset(order)
        given.features = Matrix(rows: m, cols: d, values: standardised)
        let targets = PreparedTargets(given, config: config)
        let loss = TrainingPointers.with(given.features, targets) { ptrs in
            let stepper = BatchStep(loss: config.loss, penalty: L2Penalty(l2: 0), parallel: Parallel(threads: threads))
            return stepper.run(x: Rows(base: ptrs.x, stride: d), targets: ptrs.targets, m: m, params: params,
                               work: Workspace(params: params, batch: m, tasks: threads), update: nil)
        }
        let plain = gradients(params), largest = Double(plain.map(abs).max()!)
        #expect(close(clean.loss, loss, 1e-6), "\(clean.loss) \(loss)")
        #expect(largest > 1e-3 && zip(clean.grads, plain).allSatisfy { abs(Double($0 - $1)) <= 1e-5 * largest })
        // Bad values in two chunks (rows 70 and 190, the later one a NaN; row 130's 3e38 standardises to a finite
        // value): the first in batch order is noted.
        let bad = step([(190, 4, .nan), (70, 1, .infinity), (130, 5, 3e38)])
        #expect(bad.first.map { [$0.0, $0.1] } == [70, 1])
        #expect(step([(199, 5, -.infinity)]).first.map { [$0.0, $0.1] } == [199, 5])
    }
}
