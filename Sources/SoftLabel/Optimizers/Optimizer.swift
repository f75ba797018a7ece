import Foundation

public enum OptimizerKind: String, Codable, CaseIterable, Sendable {
    /// Minibatch SGD with (optionally Nesterov) momentum.
    case sgd
    /// Minibatch Adam; AdamW with decoupled weight decay.
    case adam, adamw
    /// Full-batch L-BFGS with a strong-Wolfe line search (LBFGS.swift): exact optimum, no learning rate.
    case lbfgs
}

/// Updates parameter tensors from their gradients. Tensors are numbered by the trainer (weights and biases
/// of each layer); each keeps its own state (velocity; first and second moments). `step` works on a range
/// of one tensor, so slices can be updated by different threads as soon as their gradient is ready.
public protocol Optimizer: AnyObject {
    /// Call once per minibatch before the `step`s of that batch (advances Adam's t).
    func beginStep()
    /// Updates θ[range] from g[range], the gradient of the whole objective (the L2 penalty's term included:
    /// `L2Penalty`). `decay` says whether this tensor takes decoupled weight decay (weights do, biases do not).
    func step(tensor: Int, range: Range<Int>, theta: UnsafeMutablePointer<Float>, grad: UnsafePointer<Float>,
              lr: Float, decay: Bool)
    /// `step` on columns `cols` of rows `rows` of a row-major tensor with `stride` elements per row: the same
    /// updates as one `step` per row, in one call (a weight slice is 256 rows of 64 columns: called per row,
    /// the calls' own overhead cost as much as the arithmetic).
    func step(tensor: Int, rows: Range<Int>, stride: Int, cols: Range<Int>, theta: UnsafeMutablePointer<Float>,
              grad: UnsafePointer<Float>, lr: Float, decay: Bool)
    /// The moments and step count, for a checkpoint; `restore` puts back what `state` gave (false when the
    /// buffers do not fit this optimizer's tensors).
    var state: OptimizerState { get }
    func restore(_ state: OptimizerState) -> Bool
}

/// Optimizer state buffers, one per parameter tensor, zero-initialised.
final class StateBuffers {
    private(set) var buffers: [UnsafeMutablePointer<Float>]
    let sizes: [Int]

    init(sizes: [Int]) {
        self.sizes = sizes
        buffers = sizes.map { n in
            let p = UnsafeMutablePointer<Float>.allocate(capacity: max(n, 1))
            p.initialize(repeating: 0, count: max(n, 1))
            return p
        }
    }

    subscript(tensor: Int) -> UnsafeMutablePointer<Float> { buffers[tensor] }

    /// Copies of the buffers (for a checkpoint).
    var arrays: [[Float]] { zip(buffers, sizes).map { Array(UnsafeBufferPointer(start: $0, count: $1)) } }

    /// Sets the buffers from copies; false when the shapes differ.
    func load(_ arrays: ArraySlice<[Float]>) -> Bool {
        guard arrays.count == sizes.count, zip(arrays, sizes).allSatisfy({ $0.count == $1 }) else { return false }
        for (b, a) in zip(buffers, arrays) { a.withUnsafeBufferPointer { b.update(from: $0.baseAddress!, count: $0.count) } }
        return true
    }

    deinit { buffers.forEach { $0.deallocate() } }
}

/// SGD with momentum (PyTorch's form, dampening 0):
///   v ← μ v + g;   θ ← θ - lr v                  (classical momentum)
///   v ← μ v + g;   θ ← θ - lr (g + μ v)          (Nesterov, Sutskever et al. 2013)
public final class SGD: Optimizer {
    public let momentum: Float
    public let nesterov: Bool
    private let v: StateBuffers

    public init(sizes: [Int], momentum: Float, nesterov: Bool) {
        self.momentum = momentum
        self.nesterov = nesterov
        v = StateBuffers(sizes: sizes)
    }

    public func beginStep() {}

    public var state: OptimizerState { OptimizerState(buffers: v.arrays, step: 0) }
    public func restore(_ state: OptimizerState) -> Bool { v.load(state.buffers[...]) }

    public func step(tensor: Int, range: Range<Int>, theta: UnsafeMutablePointer<Float>, grad: UnsafePointer<Float>,
                     lr: Float, decay: Bool) {
        update(range, theta: theta, grad: grad, v: v[tensor], lr: lr)
    }

    public func step(tensor: Int, rows: Range<Int>, stride: Int, cols: Range<Int>, theta: UnsafeMutablePointer<Float>,
                     grad: UnsafePointer<Float>, lr: Float, decay: Bool) {
        let v = self.v[tensor]
        for row in rows {
            let base = row * stride
            update((base + cols.lowerBound)..<(base + cols.upperBound), theta: theta, grad: grad, v: v, lr: lr)
        }
    }

    @inline(__always)
    private func update(_ range: Range<Int>, theta: UnsafeMutablePointer<Float>, grad: UnsafePointer<Float>,
                        v: UnsafeMutablePointer<Float>, lr: Float) {
        let momentum = self.momentum, nesterov = self.nesterov
        // Whole vectors, then single elements, by the same operations (a range's split between the two
        // depends on the thread count, the result must not).
        var e = range.lowerBound
        let mu = Vec(repeating: momentum), rate = Vec(repeating: lr)
        while e + vecWidth <= range.upperBound {
            let th = loadVec(theta + e)
            let g = loadVec(grad + e)
            let ve = flushSubnormals(mu * loadVec(v + e) + g)
            storeVec(ve, v + e)
            storeVec(flushSubnormals(th - rate * (nesterov ? g + mu * ve : ve)), theta + e)
            e += vecWidth
        }
        while e < range.upperBound {
            let g = grad[e]
            v[e] = flushSubnormal(momentum * v[e] + g)
            theta[e] = flushSubnormal(theta[e] - lr * (nesterov ? g + momentum * v[e] : v[e]))
            e += 1
        }
    }
}

/// (Both optimizers flush subnormal results to 0: see `flushSubnormals`.)
///
/// Adam (Kingma & Ba 2015), and AdamW (Loshchilov & Hutter 2019) when `weightDecay` > 0:
///   t ← t + 1
///   m ← β1 m + (1 - β1) g;      v ← β2 v + (1 - β2) g²
///   mHat = m / (1 - β1^t);      vHat = v / (1 - β2^t)
///   θ ← θ - lr λ θ                                   (AdamW's decoupled decay, weights only)
///   θ ← θ - lr mHat / (√vHat + ε)
public final class Adam: Optimizer {
    public let beta1: Float, beta2: Float, epsilon: Float, weightDecay: Float
    private let m: StateBuffers, v: StateBuffers
    private(set) var t = 0
    private var correction1: Float = 1, correction2: Float = 1

    public init(sizes: [Int], beta1: Float, beta2: Float, epsilon: Float, weightDecay: Float = 0) {
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.weightDecay = weightDecay
        m = StateBuffers(sizes: sizes)
        v = StateBuffers(sizes: sizes)
    }

    public var state: OptimizerState { OptimizerState(buffers: m.arrays + v.arrays, step: t) }

    public func restore(_ state: OptimizerState) -> Bool {
        let n = m.sizes.count
        guard state.buffers.count == 2 * n, state.step >= 0, m.load(state.buffers[..<n]), v.load(state.buffers[n...]) else {
            return false
        }
        t = state.step
        correction1 = Float(1 - pow(Double(beta1), Double(t)))
        correction2 = Float(1 - pow(Double(beta2), Double(t)))
        return true
    }

    public func beginStep() {
        t += 1
        correction1 = Float(1 - pow(Double(beta1), Double(t)))
        correction2 = Float(1 - pow(Double(beta2), Double(t)))
    }

    public func step(tensor: Int, range: Range<Int>, theta: UnsafeMutablePointer<Float>, grad: UnsafePointer<Float>,
                     lr: Float, decay: Bool) {
        update(range, theta: theta, grad: grad, m: m[tensor], v: v[tensor], lr: lr, decay: decay)
    }

    public func step(tensor: Int, rows: Range<Int>, stride: Int, cols: Range<Int>, theta: UnsafeMutablePointer<Float>,
                     grad: UnsafePointer<Float>, lr: Float, decay: Bool) {
        let m = self.m[tensor], v = self.v[tensor]
        for row in rows {
            let base = row * stride
            update((base + cols.lowerBound)..<(base + cols.upperBound), theta: theta, grad: grad, m: m, v: v, lr: lr,
                   decay: decay)
        }
    }

    @inline(__always)
    private func update(_ range: Range<Int>, theta: UnsafeMutablePointer<Float>, grad: UnsafePointer<Float>,
                        m: UnsafeMutablePointer<Float>, v: UnsafeMutablePointer<Float>, lr: Float, decay: Bool) {
        let b1 = beta1, b2 = beta2, eps = epsilon
        let c1 = correction1, c2 = correction2
        let shrink = decay ? 1 - lr * weightDecay : 1
        // Whole vectors, then single elements, by the same operations (see SGD.step).
        var e = range.lowerBound
        let vb1 = Vec(repeating: b1), vb2 = Vec(repeating: b2), one = Vec(repeating: 1)
        let vc1 = Vec(repeating: c1), vc2 = Vec(repeating: c2), veps = Vec(repeating: eps)
        let vshrink = Vec(repeating: shrink), rate = Vec(repeating: lr)
        while e + vecWidth <= range.upperBound {
            let th = loadVec(theta + e)
            let g = loadVec(grad + e)
            let me = flushSubnormals(vb1 * loadVec(m + e) + (one - vb1) * g)
            let ve = flushSubnormals(vb2 * loadVec(v + e) + (one - vb2) * g * g)
            storeVec(me, m + e)
            storeVec(ve, v + e)
            let mHat = me / vc1, vHat = ve / vc2
            storeVec(flushSubnormals(th * vshrink - rate * mHat / (vHat.squareRoot() + veps)), theta + e)
            e += vecWidth
        }
        while e < range.upperBound {
            let g = grad[e]
            m[e] = flushSubnormal(b1 * m[e] + (1 - b1) * g)
            v[e] = flushSubnormal(b2 * v[e] + (1 - b2) * g * g)
            let mHat = m[e] / c1
            let vHat = v[e] / c2
            theta[e] = flushSubnormal(theta[e] * shrink - lr * mHat / (vHat.squareRoot() + eps))
            e += 1
        }
    }
}
