/// One minibatch: forward, loss, backward and (optionally) the optimizer update.
///
/// The batch is cut into fixed chunks of `chunkRows` rows (fixed: never derived from the thread count) and
/// runs in two parallel phases. Every output is owned by exactly one task and every sum runs in a fixed
/// order, so results are bit-identical for any thread count:
///   A. chunks split across threads; per chunk, while its rows are in cache: forward through all layers,
///      loss value and dZ = (q - p)/n, backward to each hidden layer's input (dX = dZ W, ReLU mask), and
///      for layers with few outputs the chunk's share of dW = dZᵀ X and db = Σ dZ;
///   B. the elements of each weight matrix split across threads: dW (summing the chunk shares in chunk
///      order, or dW = dZᵀ X over the whole batch for wide layers), db, then the optimizer step on exactly
///      those weights.
struct BatchStep {
    var loss: LossKind
    var l2: Float
    var parallel: Parallel

    /// Rows per chunk of phase A.
    static let chunkRows = 64
    /// Layers with at most this many outputs sum their weight gradient per chunk in phase A (their dW is
    /// small, and the chunk's inputs are still in cache); wider layers compute it over the whole batch in
    /// phase B, split by columns.
    static let chunkedGradientOutputs = 16

    /// Processes rows 0..<m of `x`/`targets`. Leaves ∂/∂θ of (1/divisor) Σ_r ω_r ℓ_r in `params.grads`
    /// (without the L2 term, which the optimizer adds) and, with `update`, steps the optimizer.
    /// `divisor` is m for a minibatch mean; the full data count when a full-batch gradient is summed over
    /// chunks. Returns Σ_r ω_r ℓ_r.
    func run(x: Rows, targets: LossTargets, m: Int, divisor: Int? = nil, params: Parameters, work: Workspace,
             update: (optimizer: Optimizer, lr: Float)?) -> Double {
        let layers = params.layerCount
        let k = params.shapes[layers - 1].outputs, kp = work.stride[layers - 1]
        let kind = loss
        let chunkRows = Self.chunkRows
        let chunks = (m + chunkRows - 1) / chunkRows

        // Layers that run their forward from Wᵀ: transpose the current weights first, rows of Wᵀ split
        // across threads (unless the previous training step's update already wrote Wᵀ: see phase B).
        for l in 0..<layers where !(update != nil && work.transposedCurrent[l]) {
            guard let wt = work.transposed[l] else { continue }
            let s = params.shapes[l]
            let tasks = Parallel.partCount(s.inputs, parts: parallel.threads, align: 16)
            parallel.run(tasks: tasks) { t in
                Dense.transpose(params.weight(l), inputs: s.inputs, outputs: s.outputs,
                                rows: Parallel.part(t, of: tasks, count: s.inputs, align: 16), into: wt)
            }
        }

        // Phase A: chunks of rows.
        let chunkTasks = Parallel.partCount(chunks, parts: parallel.threads)
        parallel.run(tasks: chunkTasks) { t in
            for c in Parallel.part(t, of: chunkTasks, count: chunks) {
                let lower = c * chunkRows, rows = lower..<min(m, lower + chunkRows), count = rows.count
                var input = x
                for l in 0..<layers {
                    let s = params.shapes[l], ld = work.stride[l]
                    if let wt = work.transposed[l] {
                        Dense.forwardTransposed(x: input, rows: rows, wt: wt, b: params.bias(l), inputs: s.inputs,
                                                outputs: s.outputs, z: work.act[l], ldz: ld)
                    } else {
                        Dense.forward(x: input, rows: rows, w: params.weight(l), b: params.bias(l), inputs: s.inputs,
                                      outputs: s.outputs, z: work.act[l], ldz: ld)
                    }
                    if l < layers - 1 {
                        ReLU.forward(work.act[l] + lower * ld, count: count * ld)
                        input = Rows(base: work.act[l], stride: ld)
                    }
                }
                // The chunk's targets, gathered first in one tight loop so their cache misses overlap.
                let pChunk = work.targets + t * chunkRows * kp
                for r in rows {
                    let src = targets.p.row(r), dst = pChunk + (r - lower) * kp
                    var j = 0
                    while j < kp { storeVec(loadVec(src + j), dst + j); j += vecWidth }
                }
                var chunkTargets = targets.dropping(lower)
                chunkTargets.p = Rows(base: pChunk, stride: kp)
                kind.forwardBackward(z: work.act[layers - 1] + lower * kp, ldz: kp, targets: chunkTargets,
                                     rows: 0..<count, k: k, n: divisor ?? m, dz: work.dz[layers - 1] + lower * kp,
                                     loss: work.rowLoss + lower, q: work.q + t * kp, logq: work.logq + t * kp)
                for l in stride(from: layers - 1, to: 0, by: -1) {
                    let s = params.shapes[l], ld = work.stride[l], below = work.stride[l - 1]
                    Dense.backwardInput(dz: work.dz[l], ldz: ld, rows: rows, w: params.weight(l), inputs: s.inputs,
                                        outputs: s.outputs, dx: work.dz[l - 1], ldx: below)
                    ReLU.backward(work.dz[l - 1] + lower * below,
                                  activation: work.act[l - 1] + lower * below, count: count * below)
                }
                for l in 0..<layers where work.chunked[l] {
                    let s = params.shapes[l], ld = work.stride[l]
                    let layerInput = l == 0 ? x : Rows(base: work.act[l - 1], stride: work.stride[l - 1])
                    Dense.backwardWeight(dz: work.dz[l] + lower * ld, ldz: ld, x: layerInput.dropping(lower), n: count,
                                         inputs: s.inputs, outputs: s.outputs, cols: 0..<s.inputs,
                                         dw: work.partialWeight[l] + c * s.inputs * s.outputs)
                    Dense.backwardBias(dz: work.dz[l] + lower * ld, ldz: ld, n: count, outputs: s.outputs,
                                       db: work.partialBias[l] + c * s.outputs)
                }
            }
        }
        // Summed in row order, never per thread: the loss must not depend on the thread count either.
        var total = 0.0
        for r in 0..<m { total += Double(work.rowLoss[r]) }
        if !total.isFinite { return total }

        // Phase B: weights.
        update?.optimizer.beginStep()
        let l2 = self.l2
        let tasks = parallel.threads
        parallel.run(tasks: tasks) { t in
            for l in 0..<layers {
                let s = params.shapes[l], ld = work.stride[l]
                let size = s.inputs * s.outputs
                if work.chunked[l] {
                    let range = Parallel.part(t, of: tasks, count: size, align: vecWidth)
                    if !range.isEmpty {
                        sumChunks(work.partialWeight[l], stride: size, chunks: chunks, range: range, into: params.dWeight(l))
                        update?.optimizer.step(tensor: 2 * l, range: range, theta: params.weight(l),
                                               grad: params.dWeight(l), lr: update!.lr, l2: l2, decay: true)
                    }
                } else {
                    let input = l == 0 ? x : Rows(base: work.act[l - 1], stride: work.stride[l - 1])
                    let cols = Parallel.part(t, of: tasks, count: s.inputs, align: 4 * vecWidth)
                    if !cols.isEmpty {
                        Dense.backwardWeight(dz: work.dz[l], ldz: ld, x: input, n: m, inputs: s.inputs,
                                             outputs: s.outputs, cols: cols, dw: params.dWeight(l))
                        if let (optimizer, lr) = update {
                            for o in 0..<s.outputs {
                                let base = o * s.inputs
                                optimizer.step(tensor: 2 * l, range: (base + cols.lowerBound)..<(base + cols.upperBound),
                                               theta: params.weight(l), grad: params.dWeight(l), lr: lr, l2: l2, decay: true)
                            }
                            // The columns just updated are these rows of Wᵀ: refresh them while they are in cache.
                            if let wt = work.transposed[l] {
                                Dense.transpose(params.weight(l), inputs: s.inputs, outputs: s.outputs, rows: cols, into: wt)
                            }
                        }
                    }
                }
                if t == l % tasks {
                    if work.chunked[l] {
                        sumChunks(work.partialBias[l], stride: s.outputs, chunks: chunks, range: 0..<s.outputs,
                                  into: params.dBias(l))
                    } else {
                        Dense.backwardBias(dz: work.dz[l], ldz: ld, n: m, outputs: s.outputs, db: params.dBias(l))
                    }
                    if let (optimizer, lr) = update {
                        optimizer.step(tensor: 2 * l + 1, range: 0..<s.outputs, theta: params.bias(l),
                                       grad: params.dBias(l), lr: lr, l2: l2, decay: false)
                    }
                }
            }
        }
        if update != nil { for l in 0..<layers where work.transposed[l] != nil { work.transposedCurrent[l] = true } }
        return total
    }
}

/// out[e] = ((P_0[e] + P_1[e]) + P_2[e]) + ... for e in `range`: the chunk shares added in chunk order.
/// P_c starts at partial + c * stride.
@inline(__always)
private func sumChunks(_ partial: UnsafePointer<Float>, stride: Int, chunks: Int, range: Range<Int>,
                       into out: UnsafeMutablePointer<Float>) {
    var e = range.lowerBound
    while e + vecWidth <= range.upperBound {
        var acc = loadVec(partial + e)
        for c in 1..<max(chunks, 1) { acc += loadVec(partial + c * stride + e) }
        storeVec(acc, out + e)
        e += vecWidth
    }
    while e < range.upperBound {
        var acc = partial[e]
        for c in 1..<max(chunks, 1) { acc += partial[c * stride + e] }
        out[e] = acc
        e += 1
    }
}

/// Rounds a row width up to whole vectors: activation rows are padded so every row starts a fresh vector
/// and whole-vector loads and stores never touch the next row.
@inline(__always)
func paddedWidth(_ width: Int) -> Int { (width + vecWidth - 1) / vecWidth * vecWidth }

/// Per-batch buffers, allocated once per run: activations and their gradients for each layer,
/// (batch, stride[l]) with stride[l] = outputs_l rounded up to whole vectors; per-chunk weight-gradient
/// shares for the layers that sum them per chunk; per-task scratch.
final class Workspace {
    let stride: [Int]
    let act: [UnsafeMutablePointer<Float>]  // layer l output (batch, stride[l]); the last holds the logits
    let dz: [UnsafeMutablePointer<Float>]   // ∂L/∂Z_l (batch, stride[l])
    let chunked: [Bool]                     // layer l sums dW per chunk (BatchStep.chunkedGradientOutputs)
    let transposed: [UnsafeMutablePointer<Float>?]  // Wᵀ (inputs_l, outputs_l) for layers that prefer it
    /// Wᵀ already matches W: set by a training step's update, which rewrites Wᵀ with the new weights.
    var transposedCurrent: [Bool]
    let partialWeight: [UnsafeMutablePointer<Float>]  // (chunks, outputs_l, inputs_l) when chunked
    let partialBias: [UnsafeMutablePointer<Float>]    // (chunks, outputs_l) when chunked
    let rowLoss: UnsafeMutablePointer<Float>  // (batch)
    let targets: UnsafeMutablePointer<Float>  // (tasks, chunkRows, stride[last]) a chunk's gathered targets
    let q: UnsafeMutablePointer<Float>, logq: UnsafeMutablePointer<Float>  // (tasks, stride[last]) scratch

    init(shapes: [(inputs: Int, outputs: Int)], batch: Int, tasks: Int) {
        stride = shapes.map { paddedWidth($0.outputs) }
        func zeroed(_ n: Int) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: max(n, 1))
            p.initialize(repeating: 0, count: max(n, 1))
            return p
        }
        let chunks = (batch + BatchStep.chunkRows - 1) / BatchStep.chunkRows
        let chunked = shapes.map { $0.outputs <= BatchStep.chunkedGradientOutputs }
        self.chunked = chunked
        partialWeight = shapes.indices.map { chunked[$0] ? zeroed(chunks * shapes[$0].inputs * shapes[$0].outputs) : zeroed(0) }
        partialBias = shapes.indices.map { chunked[$0] ? zeroed(chunks * shapes[$0].outputs) : zeroed(0) }
        transposed = shapes.map { Dense.prefersTransposedForward(outputs: $0.outputs) ? zeroed($0.inputs * $0.outputs) : nil }
        transposedCurrent = shapes.map { _ in false }
        let stride = self.stride
        act = stride.map { zeroed(batch * $0) }
        dz = stride.map { zeroed(batch * $0) }
        rowLoss = zeroed(batch)
        let kp = stride[stride.count - 1]
        targets = zeroed(tasks * BatchStep.chunkRows * kp)
        q = zeroed(tasks * kp)
        logq = zeroed(tasks * kp)
    }

    deinit {
        (act + dz + partialWeight + partialBias + transposed.compactMap { $0 }).forEach { $0.deallocate() }
        rowLoss.deallocate()
        targets.deallocate()
        q.deallocate()
        logq.deallocate()
    }
}
