import Foundation
import ParallelKit

/// joblib's first example:
///
/// ```python
/// >>> Parallel(n_jobs=1)(delayed(sqrt)(i**2) for i in range(10))
/// [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0]
/// ```
///
/// `delayed(sqrt)(x)` makes a task that calls `sqrt(x)` later; with `nJobs: 1` the tasks run one
/// after the other in the calling task, the same code path as with workers.
func sqrtExample() async throws {
    let roots = try await Parallel(nJobs: 1)((0..<10).map { i in delayed(sqrt)(Double(i * i)) })
    print(roots)
}
