// Scripts/kernelbench: single-core GFLOP/s of the matrix kernels on the training workloads' layer shapes (and the
// losses' ns per row), by thread CPU time (so other processes on a shared machine count less). A developer's
// tool for choosing kernels and block sizes; the figures users see come from Scripts/bench.
import Foundation

@main
struct KernelBench {
    static func cpuSeconds() -> Double {
        var ts = timespec()
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
        return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    }

    /// The best GFLOP/s of `repeats` runs of `body`, each doing `flops`.
    static func rate(_ flops: Double, repeats: Int = 11, _ body: () -> Void) -> Double {
        body()
        var rates: [Double] = []
        for _ in 0..<repeats {
            let t0 = cpuSeconds()
            var reps = 0
            var t = t0
            repeat { body(); reps += 1; t = cpuSeconds() } while t - t0 < 0.05
            rates.append(flops * Double(reps) / (t - t0) / 1e9)
        }
        return rates.max()!  // the best run: least disturbed by other processes on a shared machine
    }

    /// Each kernel computing one of the dense layer's products for shape s.
    static func kernels(_ s: (m: Int, k: Int, n: Int), x: Rows, w: UnsafeMutablePointer<Float>, wt: UnsafeMutablePointer<Float>,
                        b: UnsafeMutablePointer<Float>, z: UnsafeMutablePointer<Float>, dz: UnsafeMutablePointer<Float>,
                        dw: UnsafeMutablePointer<Float>, dx: UnsafeMutablePointer<Float>) -> [(String, () -> Void)] {
        [
            ("forward dot (NT)", { gemmNT(x: x, rows: 0..<s.m, w: w, bias: b, outputs: s.n, inputs: s.k, z: z, ldz: s.n) }),
            ("forward W^T (NN)", { gemmNN(g: x, rows: 0..<s.m, w: wt, outputs: s.k, inputs: s.n, dx: z, ldx: s.n) }),
            ("forward packed", {
                gemmPacked(x: x, rows: 0..<s.m, packed: wt, bias: b, outputs: s.n, inputs: s.k, z: z, ldz: s.n)
            }),
            ("dW (TN)", { gemmTN(g: dz, ldg: s.n, x: x, n: s.m, outputs: s.n, cols: 0..<s.k, dw: dw, ldw: s.k) }),
            ("dX (NN)", { gemmNN(g: Rows(base: dz, stride: s.n), rows: 0..<s.m, w: w, outputs: s.n, inputs: s.k, dx: dx, ldx: s.k) }),
        ]
    }

    static func main() {
        let args = CommandLine.arguments.dropFirst()
        let shapes: [(m: Int, k: Int, n: Int)] = [(64, 512, 10), (256, 2048, 100), (64, 512, 256), (64, 256, 10), (256, 512, 256), (64, 2048, 100)]
        var rng = SplitMix64(seed: 1)
        func random(_ count: Int) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: count)
            for i in 0..<count { p[i] = Float(rng.nextGaussian()) }
            return p
        }
        print("shape (rows x inputs -> outputs)   kernel              GFLOP/s")
        for s in shapes where args.isEmpty || args.contains("\(s.k)x\(s.n)") {
            let x = random(s.m * s.k), w = random(s.n * s.k), wt = random(max(s.k * s.n, packedCount(inputs: s.k, outputs: s.n))), b = random(s.n)
            let z = random(s.m * s.n), dz = random(s.m * s.n), dw = random(s.n * s.k), dx = random(s.m * s.k)
            let flops = 2.0 * Double(s.m * s.k * s.n)
            let label = "\(s.m) x \(s.k) -> \(s.n)".padding(toLength: 34, withPad: " ", startingAt: 0)
            let xr = Rows(base: x, stride: s.k)
            for (name, body) in KernelBench.kernels(s, x: xr, w: w, wt: wt, b: b, z: z, dz: dz, dw: dw, dx: dx) {
                print(label + name.padding(toLength: 20, withPad: " ", startingAt: 0) + String(format: "%7.1f", rate(flops, body)))
            }
        }
        // The loss (KL and cross-entropy, forward and gradient) on 64 rows of 10 classes in cache: ns per row.
        for kind in [LossKind.kl, .ce] {
            let m = 64, k = 10, kp = paddedWidth(k)
            let z = random(m * kp), p = UnsafeMutablePointer<Float>.allocate(capacity: m * kp)
            p.initialize(repeating: 0, count: m * kp)
            for r in 0..<m { for j in 0..<k { p[r * kp + j] = 1 / Float(k) } }
            let negH = UnsafeMutablePointer<Float>.allocate(capacity: m)
            negH.initialize(repeating: -log(Float(k)), count: m)
            let dz = random(m * kp), loss = random(m), q = random(kp), logq = random(kp)
            let targets = LossTargets(p: Rows(base: p, stride: kp), index: nil, negEntropy: negH, weight: nil)
            let rowsPerNs = rate(Double(m), repeats: 7) {
                kind.forwardBackward(z: z, ldz: kp, targets: targets, rows: 0..<m, k: k, n: m, dz: dz, loss: loss, q: q, logq: logq)
            }
            print("loss \(kind), 64 rows x 10 classes".padding(toLength: 54, withPad: " ", startingAt: 0)
                  + String(format: "%7.1f ns/row", 1 / rowsPerNs))
        }
        // The machine's ceiling: independent FMA chains in registers only.
        var acc = [Vec](repeating: Vec(repeating: 1), count: 12)
        let peak = rate(2.0 * 16 * 12 * 1_000_000, repeats: 5) {
            var a0 = acc[0], a1 = acc[1], a2 = acc[2], a3 = acc[3], a4 = acc[4], a5 = acc[5]
            var a6 = acc[6], a7 = acc[7], a8 = acc[8], a9 = acc[9], a10 = acc[10], a11 = acc[11]
            let m = Vec(repeating: 0.999999), c = Vec(repeating: 1e-7)
            for _ in 0..<1_000_000 {
                a0.addProduct(a0, m); a1.addProduct(a1, m); a2.addProduct(a2, m); a3.addProduct(a3, m)
                a4.addProduct(a4, m); a5.addProduct(a5, m); a6.addProduct(a6, m); a7.addProduct(a7, m)
                a8.addProduct(a8, m); a9.addProduct(a9, m); a10.addProduct(a10, m); a11.addProduct(a11, m)
            }
            acc = [a0 + c, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10, a11]
        }
        print("register-only FMA peak (one core)" + String(repeating: " ", count: 22) + String(format: "%7.1f", peak))
    }
}
