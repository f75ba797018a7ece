/// Limited-memory BFGS (Nocedal & Wright, *Numerical Optimization*, 2nd ed., Algorithms 7.4 and 7.5): a
/// full-batch quasi-Newton method, the solver behind scikit-learn's LogisticRegression and our reference.
///
/// Keeps the last m pairs s_i = θ_{i+1} - θ_i, y_i = g_{i+1} - g_i; the search direction is -H g, where H
/// approximates the inverse Hessian by the two-loop recursion with H_0 = γ I, γ = sᵀy / yᵀy.
public struct LBFGS {
    public let memory: Int
    private var s: [[Double]] = []
    private var y: [[Double]] = []
    private var rho: [Double] = []

    public init(memory: Int = 10) { self.memory = memory }

    /// The stored pairs, for a checkpoint.
    struct State: Sendable {
        var s: [[Double]]
        var y: [[Double]]
        var rho: [Double]
    }

    var state: State {
        get { State(s: s, y: y, rho: rho) }
        set { (s, y, rho) = (newValue.s, newValue.y, newValue.rho) }
    }

    /// -H g by the two-loop recursion (plain -g before any curvature pair is stored).
    public func direction(_ g: [Double]) -> [Double] {
        var q = g
        var alpha = [Double](repeating: 0, count: s.count)
        for i in stride(from: s.count - 1, through: 0, by: -1) {
            alpha[i] = rho[i] * dot(s[i], q)
            axpy(-alpha[i], y[i], &q)
        }
        if let sl = s.last, let yl = y.last {
            let gamma = dot(sl, yl) / dot(yl, yl)
            for j in q.indices { q[j] *= gamma }
        }
        for i in 0..<s.count {
            let beta = rho[i] * dot(y[i], q)
            axpy(alpha[i] - beta, s[i], &q)
        }
        for j in q.indices { q[j] = -q[j] }
        return q
    }

    /// Stores the pair (s, y) when it carries positive curvature (sᵀy > 0; otherwise H would stop being
    /// positive definite and the pair is skipped).
    public mutating func update(s newS: [Double], y newY: [Double]) {
        let sy = dot(newS, newY)
        guard sy > 1e-12 * dot(newY, newY), sy.isFinite else { return }
        if s.count == memory {
            s.removeFirst()
            y.removeFirst()
            rho.removeFirst()
        }
        s.append(newS)
        y.append(newY)
        rho.append(1 / sy)
    }
}

/// A line search along a descent direction satisfying the strong Wolfe conditions (Nocedal & Wright
/// Algorithms 3.5 and 3.6):  φ(α) <= φ(0) + c1 α φ'(0)  and  |φ'(α)| <= c2 |φ'(0)|.
public enum WolfeLineSearch {
    /// - Parameters:
    ///   - phi: α ↦ (φ(α), φ'(α)), the objective and its slope along the direction.
    ///   - f0, slope0: φ(0) and φ'(0) < 0.
    /// - Returns: the accepted step and φ there, or nil when no step decreases φ (at the precision of φ).
    public static func search(
        phi: (Double) -> (f: Double, slope: Double), f0: Double, slope0: Double, initial: Double,
        c1: Double = 1e-4, c2: Double = 0.9, maxEvaluations: Int = 25
    ) -> (alpha: Double, f: Double)? {
        var evaluations = 0
        func eval(_ a: Double) -> (f: Double, slope: Double) {
            evaluations += 1
            return phi(a)
        }
        var prev = (alpha: 0.0, f: f0, slope: slope0)
        var alpha = initial
        while evaluations < maxEvaluations {
            let cur = eval(alpha)
            if !cur.f.isFinite {
                // Overshot into overflow: come back towards the last good point.
                alpha = 0.5 * (prev.alpha + alpha)
                continue
            }
            if cur.f > f0 + c1 * alpha * slope0 || (evaluations > 1 && cur.f >= prev.f) {
                return zoom(lo: prev, hi: (alpha, cur.f, cur.slope))
            }
            if abs(cur.slope) <= -c2 * slope0 { return (alpha, cur.f) }
            if cur.slope >= 0 { return zoom(lo: (alpha, cur.f, cur.slope), hi: prev) }
            prev = (alpha, cur.f, cur.slope)
            alpha *= 2
        }
        return prev.alpha > 0 ? (prev.alpha, prev.f) : nil

        // Shrinks [lo, hi] (lo the best point so far satisfying sufficient decrease) until a step meets both
        // conditions; the trial step is the minimiser of the cubic through both ends, kept inside the interval.
        func zoom(lo start: (alpha: Double, f: Double, slope: Double),
                  hi end: (alpha: Double, f: Double, slope: Double)) -> (alpha: Double, f: Double)? {
            var lo = start, hi = end
            while evaluations < maxEvaluations {
                let a = interpolate(lo, hi)
                let cur = eval(a)
                if !cur.f.isFinite || cur.f > f0 + c1 * a * slope0 || cur.f >= lo.f {
                    hi = (a, cur.f, cur.slope)
                } else {
                    if abs(cur.slope) <= -c2 * slope0 { return (a, cur.f) }
                    if cur.slope * (hi.alpha - lo.alpha) >= 0 { hi = lo }
                    lo = (a, cur.f, cur.slope)
                }
                if abs(hi.alpha - lo.alpha) <= 1e-12 * max(1, lo.alpha) { break }
            }
            return lo.alpha > 0 ? (lo.alpha, lo.f) : nil
        }
    }

    /// Minimiser of the cubic matching φ and φ' at both ends, clamped to the middle 80% of the interval
    /// (bisection when the cubic has no usable minimum).
    static func interpolate(_ a: (alpha: Double, f: Double, slope: Double),
                            _ b: (alpha: Double, f: Double, slope: Double)) -> Double {
        let lo = min(a.alpha, b.alpha), hi = max(a.alpha, b.alpha)
        let d1 = a.slope + b.slope - 3 * (a.f - b.f) / (a.alpha - b.alpha)
        let disc = d1 * d1 - a.slope * b.slope
        var t = 0.5 * (a.alpha + b.alpha)
        if disc >= 0 && b.f.isFinite {
            let d2 = (b.alpha > a.alpha ? 1.0 : -1.0) * disc.squareRoot()
            let c = b.alpha - (b.alpha - a.alpha) * (b.slope + d2 - d1) / (b.slope - a.slope + 2 * d2)
            if c.isFinite { t = c }
        }
        let margin = 0.1 * (hi - lo)
        return min(max(t, lo + margin), hi - margin)
    }
}

@inline(__always)
func dot(_ a: [Double], _ b: [Double]) -> Double {
    var s = 0.0
    for i in a.indices { s += a[i] * b[i] }
    return s
}

/// y += a x
@inline(__always)
func axpy(_ a: Double, _ x: [Double], _ y: inout [Double]) {
    for i in y.indices { y[i] += a * x[i] }
}
