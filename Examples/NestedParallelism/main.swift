// `swift run nested-parallelism`: joblib's pages on nested `Parallel` calls and
// `inner_max_num_threads`, in Swift.
//
// A task of a parallel call that starts a parallel call of its own could multiply the threads
// (2 outer workers × 2 inner × a native library's own threads …). ParallelKit follows joblib:
// one level down a nested `Parallel()` runs on threads with nJobs 1 unless it names its nJobs,
// and deeper ones run sequentially. Worker processes also get `innerMaxNumThreads` as
// OMP_NUM_THREADS (and OpenBLAS's, MKL's … variables) so native libraries in them stay within
// their share of the cores.
import Foundation
import ParallelKit

/// What a task sees about its own nesting, and what a native library in it would see.
struct Report: Codable, Sendable, CustomStringConvertible {
    var nestingLevel: Int
    var ompNumThreads: String
    var innerResults: [Int]
    var description: String {
        "nesting level \(nestingLevel), OMP_NUM_THREADS=\(ompNumThreads), inner results \(innerResults)"
    }
}

/// An outer task that runs an inner parallel call.
struct OuterTask: ParallelJob {
    var index: Int
    func run() async throws -> Report {
        // No nJobs given: joblib's rule picks threads with nJobs 1 one level down.
        let base = (index + 1) * 10
        let tasks: [Delayed<Int>] = (0..<3).map { j in Delayed { base + j } }
        let inner = try await Parallel()(tasks)
        return Report(
            nestingLevel: ParallelConfig.current.nestingLevel,
            ompNumThreads: ProcessInfo.processInfo.environment["OMP_NUM_THREADS"] ?? "unset",
            innerResults: inner)
    }
}

print("outer tasks on threads:")
for report in try await Parallel(nJobs: 2, backend: "threading")((0..<2).map { OuterTask(index: $0) }) {
    print("  \(report)")
}

print("outer tasks in worker processes, innerMaxNumThreads 1:")
let reports = try await withParallelConfig(backend: "process", nJobs: 2, innerMaxNumThreads: 1) {
    try await Parallel()((0..<2).map { OuterTask(index: $0) })
}
for report in reports { print("  \(report)") }
precondition(reports.allSatisfy { $0.ompNumThreads == "1" }, "workers should see OMP_NUM_THREADS=1")
