// `swift run concurrent-perform-demo`: a backend from outside the library, registered by name and
// used like the built-in ones. See Examples/ConcurrentPerformBackend for the backend itself.
import ConcurrentPerformBackend
import Foundation
import ParallelKit

/// Counts the primes below `limit` by trial division: CPU-bound work for the workers.
@Sendable func countPrimes(below limit: Int) -> Int {
    guard limit > 2 else { return 0 }
    var count = 1
    var n = 3
    while n < limit {
        var d = 3
        var prime = true
        while d * d <= n {
            if n % d == 0 {
                prime = false
                break
            }
            d += 2
        }
        if prime { count += 1 }
        n += 2
    }
    return count
}

/// Flushes standard output, so that it interleaves with the progress lines on standard error
/// (unbuffered) also when the output goes to a pipe.
func flushOutput() {
    fflush(nil)
}

/// Does a few milliseconds of work, then says which `concurrentPerform` iteration ran it.
@Sendable func worker(_ task: Int) -> Int {
    _ = countPrimes(below: 100_000)
    return ConcurrentPerformBackend.currentWorker ?? -1
}

// 1. Registration is explicit: importing the module registers nothing.
print("before: \(registeredParallelBackends())")
let backend = registerConcurrentPerformBackend()
print("after:  \(registeredParallelBackends())")
flushOutput()

// 2. Used by name, with every engine feature: batching, ordering, verbose progress.
let limits = Array(repeating: 300_000, count: 12)
let clock = ContinuousClock()
var counts: [Int] = []
let parallelTime = try await clock.measure {
    counts = try await Parallel(nJobs: -1, backend: "concurrent-perform", verbose: 5)(
        limits.map { n in delayed(countPrimes)(n) })
}
let sequentialTime = try await clock.measure {
    _ = try await Parallel(nJobs: 1)(limits.map { n in delayed(countPrimes)(n) })
}
print("primes below \(limits[0]): \(counts[0]), \(counts.count) times")
print("nJobs -1 (\(backend.effectiveNJobs(cpuCount())) workers): \(parallelTime), nJobs 1: \(sequentialTime)")
flushOutput()

// 3. Which iteration of concurrentPerform ran each task (fixed batches of 1, so each task is a batch).
let workers = try await Parallel(nJobs: 2, backend: "concurrent-perform", batchSize: 1)(
    (0..<8).map { i in delayed(worker)(i) })
print("iteration that ran each of 8 tasks: \(workers)")

// 4. From a configuration scope, as joblib's `with parallel_config(backend=...)`.
let squares = try await withParallelConfig(backend: "concurrent-perform", nJobs: 2) {
    try await Parallel()((0..<10).map { i in delayed { (x: Int) in x * x }(i) })
}
print("squares from a withParallelConfig scope: \(squares)")

print("statistics: \(backend.statistics)")
