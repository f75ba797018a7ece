/// One minibatch: forward, loss, backward and (optionally) the optimizer update.
///
/// Runs in two parallel phases, with every output owned by exactly one task so that results are
/// bit-identical for any thread count:
///   A. rows of the batch split across threads: forward through all layers, loss value and dZ = (q - p)/n,
///      backward to each hidden layer's input (dX = dZ W, ReLU mask) — all while the rows are in cache;
///   B. columns of each weight matrix split across threads: dW = dZᵀ X, db = Σ dZ, then the optimizer
///      step on exactly those weights.
struct BatchStep {
    var loss: LossKind
    var l2: Float
    var parallel: Parallel

    /// Processes rows 0..<m of `x`/`targets`. Leaves ∂/∂θ of (1/divisor) Σ_r ω_r ℓ_r in `params.grads`
    /// (without the L2 term, which the optimizer adds) and, with `update`, steps the optimizer.
    /// `divisor` is m for a minibatch mean; the full data count when a full-batch gradient is summed over
    /// chunks. Returns Σ_r ω_r ℓ_r.
    func run(x: Rows, targets: LossTargets, m: Int, divisor: Int? = nil, params: Parameters, work: Workspace,
             update: (optimizer: Optimizer, lr: Float)?) -> Double {
        let layers = params.layerCount
        let k = params.shapes[layers - 1].outputs
        let kind = loss

        // Phase A: rows.
        let rowParts = Parallel.split(m, parts: parallel.threads, align: 4)
        parallel.run(tasks: rowParts.count) { t in
            let rows = rowParts[t]
            var input = x
            for l in 0..<layers {
                let s = params.shapes[l], ld = work.stride[l]
                Dense.forward(x: input, rows: rows, w: params.weight(l), b: params.bias(l), inputs: s.inputs,
                              outputs: s.outputs, z: work.act[l], ldz: ld)
                if l < layers - 1 {
                    ReLU.forward(work.act[l] + rows.lowerBound * ld, count: rows.count * ld)
                    input = Rows(base: work.act[l], stride: ld)
                }
            }
            kind.forwardBackward(z: work.act[layers - 1], ldz: work.stride[layers - 1], targets: targets, rows: rows,
                                 k: k, n: divisor ?? m, dz: work.dz[layers - 1], loss: work.rowLoss,
                                 q: work.q + t * work.stride[layers - 1], logq: work.logq + t * work.stride[layers - 1])
            for l in stride(from: layers - 1, to: 0, by: -1) {
                let s = params.shapes[l], ld = work.stride[l], below = work.stride[l - 1]
                Dense.backwardInput(dz: work.dz[l], ldz: ld, rows: rows, w: params.weight(l), inputs: s.inputs,
                                    outputs: s.outputs, dx: work.dz[l - 1], ldx: below)
                ReLU.backward(work.dz[l - 1] + rows.lowerBound * below,
                              activation: work.act[l - 1] + rows.lowerBound * below, count: rows.count * below)
            }
        }
        // Summed in row order, never per thread: the loss must not depend on the thread count either.
        var total = 0.0
        for r in 0..<m { total += Double(work.rowLoss[r]) }
        if !total.isFinite { return total }

        // Phase B: weight columns.
        update?.optimizer.beginStep()
        let l2 = self.l2
        let tasks = parallel.threads
        parallel.run(tasks: tasks) { t in
            for l in 0..<layers {
                let s = params.shapes[l], ld = work.stride[l]
                let input = l == 0 ? x : Rows(base: work.act[l - 1], stride: work.stride[l - 1])
                let parts = Parallel.split(s.inputs, parts: tasks, align: 4 * vecWidth)
                if t < parts.count {
                    let cols = parts[t]
                    Dense.backwardWeight(dz: work.dz[l], ldz: ld, x: input, n: m, inputs: s.inputs,
                                         outputs: s.outputs, cols: cols, dw: params.dWeight(l))
                    if let (optimizer, lr) = update {
                        for o in 0..<s.outputs {
                            let base = o * s.inputs
                            optimizer.step(tensor: 2 * l, range: (base + cols.lowerBound)..<(base + cols.upperBound),
                                           theta: params.weight(l), grad: params.dWeight(l), lr: lr, l2: l2, decay: true)
                        }
                    }
                }
                if t == l % tasks {
                    Dense.backwardBias(dz: work.dz[l], ldz: ld, n: m, outputs: s.outputs, db: params.dBias(l))
                    if let (optimizer, lr) = update {
                        optimizer.step(tensor: 2 * l + 1, range: 0..<s.outputs, theta: params.bias(l),
                                       grad: params.dBias(l), lr: lr, l2: l2, decay: false)
                    }
                }
            }
        }
        return total
    }
}

/// Rounds a row width up to whole vectors: activation rows are padded so every row starts a fresh vector
/// and whole-vector loads and stores never touch the next row.
@inline(__always)
func paddedWidth(_ width: Int) -> Int { (width + vecWidth - 1) / vecWidth * vecWidth }

/// Per-batch buffers, allocated once per run: activations and their gradients for each layer,
/// (batch, stride[l]) with stride[l] = outputs_l rounded up to whole vectors.
final class Workspace {
    let stride: [Int]
    let act: [UnsafeMutablePointer<Float>]  // layer l output (batch, stride[l]); the last holds the logits
    let dz: [UnsafeMutablePointer<Float>]   // ∂L/∂Z_l (batch, stride[l])
    let rowLoss: UnsafeMutablePointer<Float>  // (batch)
    let q: UnsafeMutablePointer<Float>, logq: UnsafeMutablePointer<Float>  // (tasks, stride[last]) scratch

    init(shapes: [(inputs: Int, outputs: Int)], batch: Int, tasks: Int) {
        stride = shapes.map { paddedWidth($0.outputs) }
        func zeroed(_ n: Int) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: n)
            p.initialize(repeating: 0, count: n)
            return p
        }
        act = stride.map { zeroed(batch * $0) }
        dz = stride.map { zeroed(batch * $0) }
        rowLoss = zeroed(batch)
        q = zeroed(tasks * stride[stride.count - 1])
        logq = zeroed(tasks * stride[stride.count - 1])
    }

    deinit {
        act.forEach { $0.deallocate() }
        dz.forEach { $0.deallocate() }
        rowLoss.deallocate()
        q.deallocate()
        logq.deallocate()
    }
}
