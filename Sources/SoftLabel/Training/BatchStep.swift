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
                let s = params.shapes[l]
                Dense.forward(x: input, rows: rows, w: params.weight(l), b: params.bias(l), inputs: s.inputs,
                              outputs: s.outputs, z: work.act[l], ldz: s.outputs)
                if l < layers - 1 {
                    ReLU.forward(work.act[l] + rows.lowerBound * s.outputs, count: rows.count * s.outputs)
                    input = Rows(base: work.act[l], stride: s.outputs)
                }
            }
            kind.forwardBackward(z: work.act[layers - 1], ldz: k, targets: targets, rows: rows, k: k, n: divisor ?? m,
                                 dz: work.dz[layers - 1], loss: work.rowLoss,
                                 q: work.q + t * k, logq: work.logq + t * k)
            for l in stride(from: layers - 1, to: 0, by: -1) {
                let s = params.shapes[l]
                Dense.backwardInput(dz: work.dz[l], ldz: s.outputs, rows: rows, w: params.weight(l), inputs: s.inputs,
                                    outputs: s.outputs, dx: work.dz[l - 1], ldx: s.inputs)
                ReLU.backward(work.dz[l - 1] + rows.lowerBound * s.inputs,
                              activation: work.act[l - 1] + rows.lowerBound * s.inputs, count: rows.count * s.inputs)
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
                let s = params.shapes[l]
                let input = l == 0 ? x : Rows(base: work.act[l - 1], stride: s.inputs)
                let parts = Parallel.split(s.inputs, parts: tasks, align: 4 * vecWidth)
                if t < parts.count {
                    let cols = parts[t]
                    Dense.backwardWeight(dz: work.dz[l], ldz: s.outputs, x: input, n: m, inputs: s.inputs,
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
                    Dense.backwardBias(dz: work.dz[l], ldz: s.outputs, n: m, outputs: s.outputs, db: params.dBias(l))
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

/// Per-batch buffers, allocated once per run: activations and their gradients for each layer, (batch, width).
final class Workspace {
    let act: [UnsafeMutablePointer<Float>]  // layer l output (batch, outputs_l); the last holds the logits
    let dz: [UnsafeMutablePointer<Float>]   // ∂L/∂Z_l (batch, outputs_l)
    let rowLoss: UnsafeMutablePointer<Float>  // (batch)
    let q: UnsafeMutablePointer<Float>, logq: UnsafeMutablePointer<Float>  // (tasks, k) scratch

    init(shapes: [(inputs: Int, outputs: Int)], batch: Int, tasks: Int) {
        act = shapes.map { UnsafeMutablePointer<Float>.allocate(capacity: batch * $0.outputs) }
        dz = shapes.map { UnsafeMutablePointer<Float>.allocate(capacity: batch * $0.outputs) }
        rowLoss = .allocate(capacity: batch)
        let k = shapes[shapes.count - 1].outputs
        q = .allocate(capacity: tasks * k)
        logq = .allocate(capacity: tasks * k)
    }

    deinit {
        act.forEach { $0.deallocate() }
        dz.forEach { $0.deallocate() }
        rowLoss.deallocate()
        q.deallocate()
        logq.deallocate()
    }
}
