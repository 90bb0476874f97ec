import Foundation
import ParallelKit

/// Returning a generator (joblib's `return_as="generator"` and `"generator_unordered"`).
///
/// ```python
/// >>> for total in accumulate(Parallel(n_jobs=2, return_as="generator")(
/// ...         delayed(sqrt)(i**2) for i in range(10))): print(total)
/// ```
///
/// `generator` yields each result as soon as it and those before it are done, in submission
/// order; `generatorUnordered` yields them as they complete. Both are `AsyncSequence`s: nothing
/// runs before the first `next()`, at most a few rounds of results wait for a slow consumer, and a
/// `break` stops the work.
func generatorExample() async throws {
    // A running sum over results in submission order; no array of all results is ever built.
    var total = 0.0
    for try await root in Parallel(nJobs: 2).generator((0..<10).map { i in delayed(sqrt)(Double(i * i)) }) {
        total += root
        print("sqrt = \(root), running sum = \(total)")
    }
    flushOutput()

    // Completion order: short naps come back first (the exact order depends on the scheduler).
    let naps = [0.4, 0.1, 0.3, 0.05, 0.2, 0.0]
    print("generatorUnordered, naps \(naps):")
    let clock = ContinuousClock()
    let start = clock.now
    for try await (index, seconds) in Parallel(nJobs: 2).generatorUnordered(
        naps.enumerated().map { index, seconds in delayed(sleepThenReturn)(index, seconds) })
    {
        let elapsed = (clock.now - start) / .milliseconds(1) / 1000
        print("  at \(String(format: "%.2f", elapsed)) s: task \(index) (slept \(seconds) s)")
    }
}

/// Sleeps, then says which task it was.
@Sendable func sleepThenReturn(_ index: Int, _ seconds: Double) async throws -> (Int, Double) {
    try await nap(seconds)
    return (index, seconds)
}
