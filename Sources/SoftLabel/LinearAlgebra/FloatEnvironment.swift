#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Subnormal floats (0 < |x| < 2^-126) flushed to zero in hardware while training computes.
///
/// Intel cores take a microcode assist, about 100 cycles, for every operation that produces or reads a
/// subnormal. Dead units, decaying optimizer moments, exp of very negative logits and their gradients
/// produce them in bulk late in training: the MLP workload ran its epochs 31-40 2.5 times slower than its
/// epochs 2-11 on an Intel Xeon even with the optimizer state flushed in software (`flushSubnormals`).
/// With FTZ (results) and DAZ (operands) set, subnormals are zeros: a change below 2^-126 in value only.
///
/// Every thread that computes inside a parallel region runs in this mode: the pool's workers for their whole
/// life, the calling thread for the duration of each job (and of the inline path), so a result never
/// depends on which thread computed it and `--threads` still cannot change a bit.
enum FloatEnvironment {
    /// Runs `body` with subnormals flushed on this thread, restoring the thread's mode after.
    @inline(__always)
    static func flushingSubnormals<R>(_ body: () throws -> R) rethrows -> R {
        var saved = fenv_t()
        fegetenv(&saved)
        var flushed = saved
        setFlush(&flushed)
        fesetenv(&flushed)
        defer { fesetenv(&saved) }
        return try body()
    }

    /// Runs `body` with subnormals kept (plain IEEE arithmetic) on this thread, restoring the thread's mode
    /// after: for a task of a parallel region that must give the bits it gives outside one (the
    /// standardisation statistics, whose inputs and 1/std may be subnormal).
    @inline(__always)
    static func keepingSubnormals<R>(_ body: () throws -> R) rethrows -> R {
        var saved = fenv_t()
        fegetenv(&saved)
        var kept = saved
        #if arch(x86_64) && canImport(Glibc)
        kept.__mxcsr &= ~0x8040
        #elseif arch(arm64) && canImport(Glibc)
        kept.__fpcr &= ~(1 << 24)
        #endif
        fesetenv(&kept)
        defer { fesetenv(&saved) }
        return try body()
    }

    /// Sets the mode on this thread for good (the pool's workers).
    static func flushSubnormalsOnThisThread() {
        var env = fenv_t()
        fegetenv(&env)
        setFlush(&env)
        fesetenv(&env)
    }

    private static func setFlush(_ env: inout fenv_t) {
        #if arch(x86_64) && canImport(Glibc)
        env.__mxcsr |= 0x8040  // FTZ (bit 15) and DAZ (bit 6)
        #elseif arch(arm64) && canImport(Glibc)
        env.__fpcr |= 1 << 24  // FZ
        #endif
    }
}
