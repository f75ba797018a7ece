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
    var penalty: L2Penalty
    var parallel: Parallel

    /// Rows per chunk of phase A.
    static let chunkRows = 64
    /// Layers with at most this many outputs sum their weight gradient per chunk in phase A (their dW is
    /// small, and the chunk's inputs are still in cache); wider layers compute it over the whole batch in
    /// phase B, split by columns.
    static let chunkedGradientOutputs = 16

    /// This step on at most `threads` threads (nil: all; the same results on any number).
    func limited(to threads: Int?) -> BatchStep {
        var step = self
        step.parallel = parallel.limited(to: threads)
        return step
    }

    /// The chunks phase A gives task `t` of `tasks`.
    @inline(__always)
    static func chunks(task t: Int, of tasks: Int, count chunks: Int) -> Range<Int> {
        Parallel.part(t, of: tasks, count: chunks)
    }

    /// The rows of a batch of `m` that phase A gives task `t` when the step runs on `threads` threads (the
    /// streamed gather fills them on the same thread, so they are in that core's cache when trained on).
    static func rows(task t: Int, of threads: Int, batch m: Int) -> Range<Int> {
        let chunks = (m + chunkRows - 1) / chunkRows
        let range = Self.chunks(task: t, of: Parallel.partCount(chunks, parts: threads), count: chunks)
        return min(m, range.lowerBound * chunkRows)..<min(m, range.upperBound * chunkRows)
    }

    /// Processes rows 0..<m of `x`/`targets`. Leaves ∂/∂θ of (1/divisor) Σ_r ω_r ℓ_r in `params.grads`
    /// (without the L2 term; with `update`, the penalty's gradient is added just before the optimizer steps
    /// on it) and, with `update`, steps the optimizer. `divisor` is m for a minibatch mean; the full data
    /// count when a full-batch gradient is summed over chunks. `mode` is the forward's (dropout is active in
    /// training). Returns Σ_r ω_r ℓ_r.
    /// With `folded`, `x` holds the rows unstandardised, as stored, and the standardisation is folded into the
    /// first layer (`InputFolding`); their non-finite standardised values are noted there for the caller to report.
    func run(x: Rows, targets: LossTargets, m: Int, divisor: Int? = nil, params: Parameters, work: Workspace,
             mode: PassMode = .inference, update: (optimizer: Optimizer, lr: Float)?, folded: InputFolding? = nil) -> Double {
        let layers = params.layerCount
        let k = params.widths[layers - 1], kp = work.stride[layers - 1]
        let kind = loss
        let chunkRows = Self.chunkRows
        let chunks = (m + chunkRows - 1) / chunkRows
        // Folded rows read in place are found by their place in the files, not by an example number.
        let examples = ExampleIndex(index: folded == nil ? x.index : nil, offset: targets.offset)
        // Targets read through an index (shuffled rows) are asked for a chunk ahead.
        let shuffled = targets.index != nil || targets.p.index != nil
        folded?.reset()
        params.refreshPacked(parallel: parallel)

        // Both phases in one parallel region, with a barrier between them (one hand-off to the threads per batch).
        update?.optimizer.beginStep()
        let penalty = self.penalty
        let tasks = parallel.threads
        let chunkTasks = Parallel.partCount(chunks, parts: tasks)
        // Phase A: chunks of rows.
        func chunkPhase(_ t: Int) {
            let mine = Self.chunks(task: t, of: chunkTasks, count: chunks)
            if let first = mine.first, shuffled { targets.prefetch(rows: first * chunkRows..<min(m, (first + 1) * chunkRows)) }
            let firstLayer = mine.isEmpty ? nil
                : folded?.prepare(task: t, weight: params.tensors[params.first[0]], bias: params.tensors[params.first[0] + 1])
            for c in mine {
                let lower = c * chunkRows, rows = lower..<min(m, lower + chunkRows), count = rows.count
                Network.forward(x, rows: rows, params: params, work: work, mode: mode, examples: examples,
                                readAhead: min(m, mine.upperBound * chunkRows), firstLayer: firstLayer)
                // The next chunk's targets asked for while this one's loss and backward run on what is in cache.
                if shuffled && c + 1 < mine.upperBound { targets.prefetch(rows: rows.upperBound..<min(m, rows.upperBound + chunkRows)) }
                folded?.check(z: work.act[0], ldz: work.stride[0], rows: rows, x: x, task: t)
                // The targets read where they lie (asked for a chunk ahead): a copy into a chunk buffer had been
                // there to overlap their misses, and cost more than it saved once they were asked for.
                let chunkTargets = targets.dropping(lower)
                kind.forwardBackward(z: work.act[layers - 1] + lower * kp, ldz: kp, targets: chunkTargets,
                                     rows: 0..<count, k: k, n: divisor ?? m, dz: work.dz[layers - 1] + lower * kp,
                                     loss: work.rowLoss + lower, q: work.q + t * kp, logq: work.logq + t * kp)
                // Back to each layer's input (not the data's: nothing needs ∂L/∂x).
                for l in stride(from: layers - 1, to: 0, by: -1) {
                    let context = LayerContext(parameters: params.tensors(ofLayer: l), packed: nil, layer: l,
                                               mode: mode, examples: examples)
                    params.layers[l].backward(dOut: work.dz[l], ldo: work.stride[l],
                                              input: Rows(base: work.act[l - 1], stride: work.stride[l - 1]),
                                              output: work.act[l], rows: rows, inputs: params.widths[l - 1],
                                              dIn: work.dz[l - 1], ldi: work.stride[l - 1], context: context)
                }
                for l in 0..<layers where work.chunked[l] {
                    guard case .dense(let d) = params.layers[l] else { continue }
                    let ld = work.stride[l]
                    Dense.backwardWeight(dz: work.dz[l] + lower * ld, ldz: ld, x: layerInput(l, x, work).dropping(lower),
                                         n: count, inputs: d.inputs, outputs: d.outputs, cols: 0..<d.inputs,
                                         dw: work.partialWeight[l]! + c * d.inputs * d.outputs)
                    Dense.backwardBias(dz: work.dz[l] + lower * ld, ldz: ld, n: count, outputs: d.outputs,
                                       db: work.partialBias[l]! + c * d.outputs)
                    if l == 0 {
                        folded?.correct(dw: work.partialWeight[0]! + c * d.inputs * d.outputs,
                                        db: work.partialBias[0]! + c * d.outputs)
                    }
                }
            }
        }
        // Phase B: weights. (A batch whose loss is not finite updates them too: the trainer then finds non-finite
        // weights and keeps the last good epoch's.)
        func weightPhase(_ t: Int) {
            for l in 0..<layers {
                guard case .dense(let d) = params.layers[l] else { continue }
                let ld = work.stride[l]
                let (wIndex, bIndex) = (params.first[l], params.first[l] + 1)
                let weight = params.tensors[wIndex], dWeight = params.grads[wIndex]
                let bias = params.tensors[bIndex], dBias = params.grads[bIndex]
                let size = d.inputs * d.outputs
                if work.chunked[l] {
                    let range = Parallel.part(t, of: tasks, count: size, align: vecWidth)
                    if !range.isEmpty {
                        sumChunks(work.partialWeight[l]!, stride: size, chunks: chunks, range: range, into: dWeight)
                        if let (optimizer, lr) = update {
                            penalty.addGradient(theta: weight, grad: dWeight, range: range)
                            optimizer.step(tensor: wIndex, range: range, theta: weight, grad: dWeight, lr: lr, decay: true)
                        }
                    }
                } else {
                    let part = Parallel.part(t, of: tasks, count: d.inputs, align: 4 * vecWidth)
                    // 64 columns at a time: their gradient, update and repacking while those columns of dW, W and the
                    // optimizer state are in this core's cache.
                    var c0 = part.lowerBound
                    while c0 < part.upperBound {
                        let cols = c0..<min(part.upperBound, c0 + 4 * vecWidth)
                        c0 = cols.upperBound
                        Dense.backwardWeight(dz: work.dz[l], ldz: ld, x: layerInput(l, x, work), n: m, inputs: d.inputs,
                                             outputs: d.outputs, cols: cols, dw: dWeight)
                        if let (optimizer, lr) = update {
                            penalty.addGradient(theta: weight, grad: dWeight, rows: 0..<d.outputs, stride: d.inputs, cols: cols)
                            optimizer.step(tensor: wIndex, rows: 0..<d.outputs, stride: d.inputs, cols: cols, theta: weight,
                                           grad: dWeight, lr: lr, decay: true)
                            // The columns just updated are these rows of the packed panels: repack them while in cache.
                            if let panels = params.packed[l] {
                                packPanels(weight, inputs: d.inputs, outputs: d.outputs, rows: cols, into: panels)
                            }
                        }
                    }
                }
                if t == l % tasks {
                    if work.chunked[l] {
                        sumChunks(work.partialBias[l]!, stride: d.outputs, chunks: chunks, range: 0..<d.outputs, into: dBias)
                    } else {
                        Dense.backwardBias(dz: work.dz[l], ldz: ld, n: m, outputs: d.outputs, db: dBias)
                    }
                    update?.optimizer.step(tensor: bIndex, range: 0..<d.outputs, theta: bias, grad: dBias,
                                           lr: update!.lr, decay: false)
                }
            }
        }
        parallel.run(tasks: tasks, phases: 2) { phase, t in phase == 0 ? chunkPhase(t) : weightPhase(t) }
        if update != nil { for l in 0..<layers where params.packed[l] != nil { params.packedCurrent[l] = true } }
        // Summed in row order, never per thread: the loss must not depend on the thread count either.
        var total = 0.0
        for r in 0..<m { total += Double(work.rowLoss[r]) }
        return total
    }

    /// Validation of rows 0..<m: the one forward (inference mode) and this step's loss, no gradient. Returns
    /// Σ_r ℓ_r (unweighted), Σ_r KL(p_r‖q_r) and the number of rows whose predicted class (the first argmax
    /// of the logits) is the majority class (the first argmax of p), each summed in row order.
    func evaluate(x: Rows, targets: LossTargets, m: Int, params: Parameters, work: Workspace)
        -> (loss: Double, kl: Double, hits: Int) {
        let layers = params.layerCount
        let k = params.widths[layers - 1], kp = work.stride[layers - 1]
        let kind = loss
        let chunks = (m + Self.chunkRows - 1) / Self.chunkRows
        let examples = ExampleIndex(index: x.index, offset: targets.offset)
        params.refreshPacked(parallel: parallel)
        let tasks = Parallel.partCount(chunks, parts: parallel.threads)
        parallel.run(tasks: tasks) { t in
            for c in Parallel.part(t, of: tasks, count: chunks) {
                let lower = c * Self.chunkRows, rows = lower..<min(m, lower + Self.chunkRows)
                Network.forward(x, rows: rows, params: params, work: work, mode: .inference, examples: examples)
                let z = work.act[layers - 1] + lower * kp, dz = work.dz[layers - 1] + lower * kp
                let chunkTargets = targets.dropping(lower)
                let q = work.q + t * kp, logq = work.logq + t * kp
                kind.forwardBackward(z: z, ldz: kp, targets: chunkTargets, rows: 0..<rows.count, k: k, n: 1, dz: dz,
                                     loss: work.rowLoss + lower, q: q, logq: logq)
                if kind == .kl {
                    (work.rowKL + lower).update(from: work.rowLoss + lower, count: rows.count)
                } else {
                    LossKind.kl.forwardBackward(z: z, ldz: kp, targets: chunkTargets, rows: 0..<rows.count, k: k, n: 1,
                                                dz: dz, loss: work.rowKL + lower, q: q, logq: logq)
                }
                for r in rows {
                    let zr = work.act[layers - 1] + r * kp, pr = targets.p.row(r)
                    var predicted = 0, label = 0
                    for j in 1..<k {
                        if zr[j] > zr[predicted] { predicted = j }
                        if pr[j] > pr[label] { label = j }
                    }
                    work.rowHit[r] = predicted == label ? 1 : 0
                }
            }
        }
        var sums = (loss: 0.0, kl: 0.0, hits: 0)
        for r in 0..<m {
            sums.loss += Double(work.rowLoss[r])
            sums.kl += Double(work.rowKL[r])
            sums.hits += Int(work.rowHit[r])
        }
        return sums
    }

    /// The rows layer l reads: the batch for the first layer, else the previous layer's output.
    @inline(__always)
    private func layerInput(_ l: Int, _ x: Rows, _ work: Workspace) -> Rows {
        l == 0 ? x : Rows(base: work.act[l - 1], stride: work.stride[l - 1])
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

