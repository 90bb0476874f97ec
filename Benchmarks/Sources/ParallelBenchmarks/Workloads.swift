// The work itself: the trivial task, the calibrated CPU-bound loop, and the jobs that cross to
// worker processes. Job types are internal structs so the process backend finds them by name.

import ParallelKit

/// The trivial task: `i &* i`. Not inlined, so every variant pays one real call per item.
@inline(never)
@Sendable
func square(_ i: Int) -> Int { i &* i }

/// A deterministic integer loop (xorshift with a running sum): each step depends on the last, so
/// the compiler can neither vectorize it nor fold it away. Cost is linear in `iterations`.
@inline(never)
@Sendable
func spin(_ seed: Int, _ iterations: Int) -> UInt64 {
    var x = (UInt64(truncatingIfNeeded: seed) &* 0x9E37_79B9_7F4A_7C15) | 1
    var acc: UInt64 = 0
    for _ in 0..<iterations {
        x ^= x << 13
        x ^= x >> 7
        x ^= x << 17
        acc &+= x
    }
    return acc
}

/// Finds the `spin` iteration count for one call of about `targetMillis`. Returns the count and
/// the median duration measured at that count.
func calibrateSpin(targetMillis: Double) -> (iterations: Int, millis: Double) {
    func timeOnce(_ n: Int) -> Double {
        let t0 = nowNanos()
        // `spin` is pure: without an input read after t0 and an output stored before t1, the
        // optimizer may move the call out of the timed region.
        blackHole(spin(opaque(1), n))
        return seconds(from: t0, to: nowNanos()) * 1000
    }
    var n = 100_000
    while (0..<3).map({ _ in timeOnce(n) }).min()! < 2 { n *= 2 }
    let perIter = (0..<5).map { _ in timeOnce(n) }.min()! / Double(n)
    let iterations = max(1, Int(targetMillis / perIter))
    let measured = median((0..<7).map { _ in timeOnce(iterations) })!
    return (iterations, measured)
}

/// Sums a buffer with four accumulators (the same kernel for shared memory and for the pipe).
@inline(never)
func sum4(_ p: UnsafeBufferPointer<Double>) -> Double {
    var a = 0.0
    var b = 0.0
    var c = 0.0
    var d = 0.0
    var i = 0
    let n = p.count
    while i + 4 <= n {
        a += p[i]; b += p[i + 1]; c += p[i + 2]; d += p[i + 3]
        i += 4
    }
    while i < n { a += p[i]; i += 1 }
    return (a + b) + (c + d)
}

// MARK: - Jobs (ParallelJob: cross process boundaries)

/// The trivial task as a job.
struct SquareJob: ParallelJob {
    var i: Int
    func run() async throws -> Int { square(i) }
}

/// The CPU-bound task as a job; the parent calibrates `iterations` and ships it.
struct SpinJob: ParallelJob {
    var seed: Int
    var iterations: Int
    func run() async throws -> UInt64 { spin(seed, iterations) }
}

/// Sums `lower..<upper` of an array that workers map instead of copying.
struct SharedSumJob: ParallelJob {
    var data: SharedArray<Double>
    var lower: Int
    var upper: Int
    func run() async throws -> Double {
        // `withUnsafeBufferPointer` is the library's (beyond the documented API); SharedArray does not
        // implement `withContiguousStorageIfAvailable`, and its subscript is not inlinable, so an
        // element-by-element loop would measure the subscript rather than the transport.
        data.withUnsafeBufferPointer { p in sum4(UnsafeBufferPointer(rebasing: p[lower..<upper])) }
    }
}

/// Sums `lower..<upper` of a plain array that travels inside the job: through the pipe when
/// `maxNbytes` is `.disabled`, through shared memory automatically above `maxNbytes` otherwise.
struct ArraySumJob: ParallelJob {
    var data: [Double]
    var lower: Int
    var upper: Int
    func run() async throws -> Double {
        data.withUnsafeBufferPointer { p in sum4(UnsafeBufferPointer(rebasing: p[lower..<upper])) }
    }
}
