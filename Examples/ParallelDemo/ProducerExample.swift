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
/// The seed shows one "Produced" per completed task. Here, as with joblib's loky backend once its
/// workers are warm, `batchSize: .auto` sees the first batch finish in microseconds and doubles
/// the batch size (the "Batch computation too fast" line), so the next dispatch takes
/// 2 × 2 jobs = 4 inputs: the last 3 are produced together. (joblib 1.6 itself prints "Produced 3"
/// and "Produced 4" together here.) `batchSize: 1` takes one input per completed task.
func producerExample() async throws {
    let out = try await Parallel(nJobs: 2, verbose: 100, preDispatch: "1.5*n_jobs")(
        producer().lazy.map { i in delayed(sqrt)(Double(i)) })
    print("out =", out)
}
