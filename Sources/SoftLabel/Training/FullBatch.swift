/// The full-batch objective J(θ) = (1/n) Σ_i ω_i ℓ_i + (l2/2) Σ_l ‖W_l‖² and its gradient, through the
/// training code. Rows go in fixed chunks whose gradients are added in chunk order, so the result does
/// not depend on the thread count.
/// The objective L-BFGS minimises, over the data in memory (`FullBatchObjective`) or streamed
/// (`StreamingObjective`).
protocol FullBatchEvaluating: AnyObject {
    /// Training examples in one pass.
    var count: Int { get }
    /// (J, mean loss, ∇J) at the parameters' current values, ∇J flattened in tensor order. Throws only when
    /// streamed data cannot be read.
    func evaluate() throws -> (objective: Double, loss: Double, gradient: [Double])
}

final class FullBatchObjective: FullBatchEvaluating {
    let data: TrainingPointers
    let params: Parameters
    let stepper: BatchStep
    let work: Workspace
    let chunk: Int
    /// The threads each chunk uses (the same bits on any number), from the chunks' times.
    private var chooser: ThreadChooser

    init(config: TrainConfig, data: TrainingPointers, params: Parameters, parallel: Parallel, chunk: Int = 2048) {
        self.data = data
        self.params = params
        self.chunk = min(chunk, data.n)
        chooser = ThreadChooser(most: parallel.threads)
        stepper = BatchStep(loss: config.loss, penalty: L2Penalty(l2: config.l2), parallel: parallel)
        work = Workspace(params: params, batch: self.chunk, tasks: parallel.threads)
    }

    var count: Int { data.n }

    /// (J, mean loss, ∇J) at the parameters' current values, ∇J flattened in tensor order.
    func evaluate() -> (objective: Double, loss: Double, gradient: [Double]) {
        var gradient = [Double](repeating: 0, count: params.sizes.reduce(0, +))
        var total = 0.0
        var start = 0
        while start < data.n {
            let m = min(chunk, data.n - start)
            let (x, targets) = data.batch(from: start)
            total += chooser.run(stepper, full: m == chunk) {
                $0.run(x: x, targets: targets, m: m, divisor: data.n, params: params, work: work, update: nil)
            }
            params.addGradients(to: &gradient)
            start += m
        }
        let loss = total / Double(data.n)
        let penalty = stepper.penalty.add(to: &gradient, theta: params.flat, shapes: params.shapes)
        return (loss + penalty, loss, gradient)
    }
}

/// Full-batch L-BFGS: one "epoch" is one iteration (a direction, then a strong-Wolfe line search, each
/// trial point a full pass over the data). It reports the step length in the learning-rate column and
/// converges when the objective's relative decrease falls below 2.2e-9 (scipy's default `factr` 1e7).
final class FullBatchDriver: EpochDriver {
    let objective: FullBatchEvaluating
    let params: Parameters
    var lbfgs: LBFGS
    var theta: [Double] = []
    var current: (objective: Double, loss: Double, gradient: [Double])?

    init(config: TrainConfig, data: TrainingPointers, params: Parameters, parallel: Parallel) {
        objective = FullBatchObjective(config: config, data: data, params: params, parallel: parallel)
        self.params = params
        lbfgs = LBFGS(memory: 10)
    }

    init(objective: FullBatchEvaluating, params: Parameters) {
        self.objective = objective
        self.params = params
        lbfgs = LBFGS(memory: 10)
    }

    var network: Network { params.network }
    var examplesDone: Int { 0 }

    /// One iteration. An interrupt (polled before every function evaluation) abandons it and puts back the
    /// weights it started from, so a checkpoint taken then resumes with the very same iteration.
    func runEpoch(_ epoch: Int, control: TrainingControl) throws -> EpochResult {
        if current == nil {
            theta = params.flat
            current = try objective.evaluate()
        }
        let (f, _, g) = current!
        if !f.isFinite { return EpochResult(loss: f, rate: 0) }
        var direction = lbfgs.direction(g)
        var slope = dot(g, direction)
        if !(slope < 0) {  // not a descent direction (lost curvature information): restart from -g
            lbfgs = LBFGS(memory: lbfgs.memory)
            direction = g.map { -$0 }
            slope = dot(g, direction)
        }
        if slope == 0 { return EpochResult(loss: current!.loss, rate: 0, converged: true) }
        let initial = epoch == 1 ? min(1, 1 / dot(g, g).squareRoot()) : 1
        var trial: (alpha: Double, theta: [Double], value: (objective: Double, loss: Double, gradient: [Double]))?
        var interrupted = false
        var failure: Error?
        let found = WolfeLineSearch.search(phi: { alpha in
            if interrupted || control.shouldStop() {
                interrupted = true
                return (.nan, .nan)  // ends the search: every later step is refused
            }
            var t = self.theta
            axpy(alpha, direction, &t)
            self.params.setFlat(t)
            let v: (objective: Double, loss: Double, gradient: [Double])
            do {
                v = try self.objective.evaluate()
            } catch {
                failure = error
                interrupted = true
                return (.nan, .nan)
            }
            trial = (alpha, self.params.flat, v)  // θ as stored (rounded to Float)
            return (v.objective, dot(v.gradient, direction))
        }, f0: f, slope0: slope, initial: initial)
        if let failure {
            params.setFlat(theta)
            throw failure
        }
        if interrupted {
            params.setFlat(theta)
            return EpochResult(loss: .nan, rate: 0, interrupted: true)
        }
        control.onBatch?(objective.count, objective.count, trial?.value.loss ?? current!.loss)
        guard let found, found.f < f else {
            params.setFlat(theta)  // no decrease at the precision of the objective: we are at the optimum
            return EpochResult(loss: current!.loss, rate: 0, converged: true)
        }
        if trial?.alpha != found.alpha {
            var t = theta
            axpy(found.alpha, direction, &t)
            params.setFlat(t)
            trial = (found.alpha, params.flat, try objective.evaluate())
        }
        let next = trial!
        var s = next.theta, y = next.value.gradient
        for i in s.indices {
            s[i] -= theta[i]
            y[i] -= g[i]
        }
        lbfgs.update(s: s, y: y)
        let decrease = f - next.value.objective
        theta = next.theta
        current = next.value
        let converged = decrease <= 2.2e-9 * max(abs(f), abs(next.value.objective), 1)
        return EpochResult(loss: next.value.loss, rate: Float(found.alpha), converged: converged)
    }
}

extension FullBatchDriver {
    func save(into c: inout Checkpoint) {
        // Between iterations the weights are θ (rounded to Float): the iteration's start.
        c.fullBatch = Checkpoint.FullBatchState(parameters: params.tensorArrays, theta: theta, memory: lbfgs.state,
                                                current: current)
    }

    func restore(_ c: Checkpoint) -> Bool {
        guard let state = c.fullBatch, params.load(tensors: state.parameters) else { return false }
        let count = params.sizes.reduce(0, +)
        if state.current != nil || !state.theta.isEmpty {
            guard state.theta.count == count, state.current.map({ $0.gradient.count == count }) ?? true,
                  state.memory.s.allSatisfy({ $0.count == count }), state.memory.y.allSatisfy({ $0.count == count }),
                  state.memory.s.count <= lbfgs.memory else { return false }
        }
        theta = state.theta
        current = state.current
        lbfgs.state = state.memory
        return true
    }
}
