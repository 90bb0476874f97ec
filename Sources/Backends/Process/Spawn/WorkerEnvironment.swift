import Foundation
import ParallelCore

// The environment a worker starts with: the parent's, minus our own control variable, plus the
// thread limits for native libraries (loky's rule) and the worker request itself.

/// Builds worker environments.
package enum WorkerEnvironment {
    /// The variables loky sets so that OpenMP, BLAS and friends inside workers do not each start
    /// one thread per core (n workers × n threads would oversubscribe the machine).
    package static let threadLimitVariables = [
        "OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS",
        "VECLIB_MAXIMUM_THREADS", "NUMBA_NUM_THREADS", "NUMEXPR_NUM_THREADS",
    ]

    /// The thread limits for workers of a call: `innerMaxNumThreads`, else the parent's own
    /// value of each variable, else `max(cpuCount / nJobs, 1)`.
    /// - Parameter parent: the parent's environment (injectable for tests).
    static func threadLimits(
        nJobs: Int, innerMaxNumThreads: Int?, cpuCount: Int, parent: [String: String]
    ) -> [String: String] {
        var limits: [String: String] = [:]
        let fallback = String(max(cpuCount / max(nJobs, 1), 1))
        for name in threadLimitVariables {
            if let innerMaxNumThreads {
                limits[name] = String(innerMaxNumThreads)
            } else if let inherited = parent[name] {
                limits[name] = inherited
            } else {
                limits[name] = fallback
            }
        }
        return limits
    }

    /// `KEY=value` strings for a worker: the parent's environment with `overrides` applied and
    /// any stale PARALLELKIT_WORKER removed.
    static func entries(parent: [String: String], overrides: [String: String]) -> [String] {
        var merged = parent
        merged.removeValue(forKey: "PARALLELKIT_WORKER")
        for (key, value) in overrides { merged[key] = value }
        return merged.map { "\($0.key)=\($0.value)" }.sorted()
    }
}
