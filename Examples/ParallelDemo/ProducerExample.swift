import Foundation
import ParallelKit

/// The producer of joblib's example: a generator that prints each value as it makes it.
///
/// ```python
/// def producer():
///     for i in range(6):
///         print('Produced %s' % i)
///         yield i
/// ```
func producer() -> some Sequence<Int> {
    sequence(state: 0) { (i: inout Int) -> Int? in
        guard i < 6 else { return nil }
        defer { i += 1 }
        print("Produced \(i)")
        return i
    }
}

/// `preDispatch` in a producer/consumer situation, where the data is generated on the fly:
///
/// ```python
/// >>> out = Parallel(n_jobs=2, verbose=100, pre_dispatch='1.5*n_jobs')(
/// ...     delayed(sqrt)(i) for i in producer())
/// ```
///
/// The input is consumed lazily, on the caller's isolation: the producer is called 3 times
/// (1.5 × 2 jobs) before the first result is in, then again as tasks complete. At verbose 50 and
/// above the progress lines go to standard output, between the "Produced" lines.
///
/// `batchSize: 1` is what joblib's threading backend always uses, and with it the output is
/// joblib 1.6's, line for line: after the pre-dispatch window each completed batch dispatches
/// batch size × nJobs = 2 inputs, so "Produced 3" and "Produced 4" come together. (The seed's
/// output, one "Produced" per completed task, is from an older joblib.) With the default
/// `batchSize: .auto`, the first batch finishes in microseconds and the batch size doubles (a
/// "Batch computation too fast" line at verbose 10 and above), so the next dispatch takes
/// 2 × 2 = 4 inputs and the last 3 are produced together, as joblib's loky backend does with its
/// own auto batching.
func producerExample() async throws {
    let out = try await Parallel(nJobs: 2, verbose: 100, preDispatch: "1.5*n_jobs", batchSize: 1)(
        producer().lazy.map { i in delayed(sqrt)(Double(i)) })
    print("out =", out)
}
