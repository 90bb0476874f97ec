import Foundation
import ParallelKit
import ProcessExamplesLegacyC

/// Uses the C library's global scale: set it, then sum with it.
struct ScaledSumJob: ParallelJob {
    var factor: Int
    var count: Int

    func run() async throws -> Int {
        legacy_set_scale(Int32(factor))
        return legacy_scaled_sum(Int32(count))
    }

    var expected: Int { factor * count }
}

/// A C library with global state gives wrong answers when threads call it at once. Worker
/// processes each have their own copy of its globals, so the same calls, in parallel, are right.
@Sendable func legacyLibraryExample() async throws {
    let jobs = (1...40).map { ScaledSumJob(factor: $0, count: 20_000) }
    let onThreads = try await Parallel(nJobs: 4, backend: "threading", batchSize: 1)(
        jobs.map { job in
            Delayed { try await job.run() }
        })
    let wrongOnThreads = zip(jobs, onThreads).filter { $0.expected != $1 }.count
    print("threading: \(wrongOnThreads) of \(jobs.count) sums are wrong (the threads overwrite each other's scale)")
    let inProcesses = try await Parallel(nJobs: 4, backend: "process", batchSize: 1)(jobs)
    let wrongInProcesses = zip(jobs, inProcesses).filter { $0.expected != $1 }.count
    print("process:   \(wrongInProcesses) of \(jobs.count) sums are wrong (each worker has its own globals)")
}
