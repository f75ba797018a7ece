/// Streamed minibatches whose first layer reads the rows where they lie in the mapped files: its forward
/// (`gemmNT` with a `StagedInput`) standardises each row into `rows` as it multiplies, and the rest of the
/// batch step reads them from there. The streamed gather would copy every row out of the page cache first, in
/// a pass of its own; here the reads from memory overlap the arithmetic. The same bits either way: the same
/// standardisation, on the same rows, in the same order.
///
/// Taken when the first layer is dense with at most `BatchStep.chunkedGradientOutputs` outputs (its forward
/// runs dot products and its weight gradient is summed per chunk in the batch step's first phase, so nothing
/// else reads the batch's inputs) and every feature shard stores little-endian float32 in C order, all of its
/// columns used (`StreamedSet.rowBase`).
final class InputStaging: @unchecked Sendable {
    // @unchecked Sendable: in a batch step, task t writes only the rows of its chunks and `bad[t]`; the driver
    // reads them after the step.
    let d: Int
    let rows: UnsafeMutablePointer<Float>  // (batch, d): the batch's standardised inputs
    private let mean: UnsafeMutablePointer<Float>?
    private let scale: UnsafeMutablePointer<Float>?
    private let bad: UnsafeMutablePointer<Int>  // per task: the first non-finite input (row * d + column), or Int.max
    private let flagged: UnsafeMutablePointer<Bool>  // per task, padded to a cache line: a chunk staged a non-finite value
    private let tasks: Int

    /// Whether a network's batch step can stage its inputs.
    static func applies(to params: Parameters) -> Bool {
        guard case .dense(let first) = params.layers.first else { return false }
        return first.outputs <= BatchStep.chunkedGradientOutputs && !Dense.usesPackedForward(outputs: first.outputs)
    }

    init(d: Int, batch: Int, tasks: Int, standardizer: Standardizer?, scale: [Float]) {
        self.d = d
        self.tasks = tasks
        rows = .allocate(capacity: max(batch * d, 1))
        if let standardizer {
            mean = .allocate(capacity: d)
            mean!.initialize(from: standardizer.mean, count: d)
            self.scale = .allocate(capacity: d)
            self.scale!.initialize(from: scale, count: d)
        } else {
            mean = nil
            self.scale = nil
        }
        bad = .allocate(capacity: tasks)
        bad.initialize(repeating: .max, count: tasks)
        flagged = .allocate(capacity: tasks * 64)
        flagged.initialize(repeating: false, count: tasks * 64)
    }

    deinit {
        rows.deallocate()
        mean?.deallocate()
        scale?.deallocate()
        bad.deallocate()
        flagged.deallocate()
    }

    /// What the first layer's forward of task `t` writes to.
    func input(task t: Int) -> StagedInput {
        StagedInput(mean: mean, scale: scale, out: rows, ld: d, notFinite: flagged + 64 * t)
    }

    /// Before a batch step.
    func reset() {
        for t in 0..<tasks {
            bad[t] = .max
            flagged[64 * t] = false
        }
    }

    /// After task `t` staged rows `chunk` of the batch: notes its first non-finite value (a task's chunks run in
    /// order, so the first one noted is the task's first), found where the forward flagged one.
    @inline(__always)
    func check(_ chunk: Range<Int>, task t: Int) {
        guard flagged[64 * t], bad[t] == .max,
              let i = NPYArray.firstNonFinite(UnsafeBufferPointer(start: rows + chunk.lowerBound * d, count: chunk.count * d))
        else { return }
        bad[t] = chunk.lowerBound * d + i
    }

    /// The first non-finite standardised input of the last batch step (row in the batch, column), if any.
    func firstBad() -> (row: Int, column: Int)? {
        let i = (0..<tasks).map { bad[$0] }.min()!
        return i == .max ? nil : (i / d, i % d)
    }
}
