import Foundation
import Testing
@testable import SoftLabel

/// A run stopped after any minibatch (or L-BFGS evaluation), checkpointed through the file format and resumed,
/// ends with exactly the network, history and summary of the run that was never stopped.
@Suite struct CheckpointTests {
    static func config(_ optimizer: OptimizerKind, hidden: [Int]) -> TrainConfig {
        var c = TrainConfig.defaults(hidden: hidden, optimizer: optimizer)
        c.epochs = 6
        c.batchSize = 16
        if !hidden.isEmpty { c.dropout = 0.2; c.patience = 3 }
        return c
    }

    /// (optimizer, hidden widths): Adam with the default averaging, dropout and a validation split; SGD with
    /// momentum on a linear model; AdamW; full-batch L-BFGS.
    static let cases: [(OptimizerKind, [Int])] = [(.adam, [8]), (.sgd, []), (.adamw, [5, 4]), (.lbfgs, [])]

    @Test(arguments: 0..<cases.count, [1, 7, 23])
    func resumedRunEqualsUninterruptedRun(_ which: Int, _ stopAfter: Int) throws {
        let (optimizer, hidden) = Self.cases[which]
        var g = TestData(seed: 3)
        let data = g.dataset(n: 90, d: 6, k: 3)
        let config = Self.config(optimizer, hidden: hidden)
        let whole = try TrainModel.run(data: data, validation: nil, config: config, parallel: Parallel(threads: 2))

        // L-BFGS polls once per function evaluation: a few dozen in this run, so stop it earlier.
        let stopAfter = optimizer == .lbfgs ? stopAfter / 3 + 1 : stopAfter
        var polls = 0
        var saved: Checkpoint?
        let stopping = TrainingControl(shouldStop: { polls += 1; return polls > stopAfter },
                                       onCheckpoint: { saved = try Checkpoint.decode(try $0.encoded(), file: "c") })
        let first = try TrainModel.run(data: data, validation: nil, config: config, parallel: Parallel(threads: 1), control: stopping)
        #expect(first.outcome.interruption != nil, "stopped after \(stopAfter) polls")
        #expect(first.model.interrupted == first.outcome.interruption)
        let resumed = try TrainModel.run(data: data, validation: nil, config: config, parallel: Parallel(threads: 3),
                                         resume: try #require(saved))
        #expect(resumed.model.interrupted == nil)
        #expect(try resumed.model.encoded() == whole.model.encoded(), "\(optimizer) \(hidden) stopped after \(stopAfter)")
    }

    /// A checkpoint only continues the run it was written by.
    @Test func refusesOtherOptionsOrData() throws {
        var g = TestData(seed: 3)
        let data = g.dataset(n: 40, d: 4, k: 2)
        let config = Self.config(.adam, hidden: [4])
        var saved: Checkpoint?
        _ = try TrainModel.run(data: data, validation: nil, config: config, parallel: Parallel(threads: 1),
                               control: TrainingControl(onCheckpoint: { saved = $0 }))
        var other = config
        other.learningRate = 0.5
        #expect {
            _ = try TrainModel.run(data: data, validation: nil, config: other, parallel: Parallel(threads: 1), resume: saved)
        } throws: { ($0 as? CheckpointMismatch)?.message.contains("learningRate 0.002 there, 0.5 here") == true }
        var changed = data
        changed.features[3, 1] += 1
        #expect {
            _ = try TrainModel.run(data: changed, validation: nil, config: config, parallel: Parallel(threads: 1), resume: saved)
        } throws: { ($0 as? CheckpointMismatch)?.message.hasPrefix("was written for other data") == true }
    }

    /// Damaged files are errors naming the file, never traps: every truncation, and bytes flipped anywhere.
    @Test func damagedFilesAreErrors() throws {
        var g = TestData(seed: 3)
        let data = g.dataset(n: 30, d: 3, k: 2)
        var saved: Checkpoint?
        _ = try TrainModel.run(data: data, validation: nil, config: Self.config(.adam, hidden: [3]), parallel: Parallel(threads: 1),
                               control: TrainingControl(onCheckpoint: { saved = $0 }))
        let bytes = [UInt8](try #require(saved).encoded())
        for cut in stride(from: 0, to: bytes.count, by: max(1, bytes.count / 300)) {
            #expect(throws: DataError.self) { try Checkpoint.decode(Data(bytes[..<cut]), file: "c") }
        }
        var rng = SplitMix64(seed: 5)
        for _ in 0..<300 {
            var damaged = bytes
            damaged[rng.nextInt(below: damaged.count)] ^= UInt8(1 + rng.nextInt(below: 255))
            _ = try? Checkpoint.decode(Data(damaged), file: "c")  // an error or a checkpoint; never a trap
        }
        #expect(throws: DataError.self) { try Checkpoint.decode(Data("SLCKPT\r\n".utf8) + Data(repeating: 0xFF, count: 8), file: "c") }
    }
}
