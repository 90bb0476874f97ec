import ParallelCore

/// A `ParallelJob` whose output is cached on disk by a `Memory`: made by `memory.cached(job)`.
///
/// It carries the job, its version and the cache folder's path, so a worker process finds the
/// same entries; the process backends find its type by name like any generic job (its `J` must
/// be `internal` or `public`). Running it returns the stored output when there is one, otherwise
/// runs `job` (once per key across all threads and processes asking at once) and stores its
/// output.
public struct CachedJob<J: ParallelJob>: ParallelJob {
    /// The output of the wrapped job.
    public typealias Output = J.Output

    let job: J
    let version: Int
    let folder: CacheFolder?

    /// The stored output, or the job's, stored for next time.
    /// - Throws: what the job throws (errors are not cached), or
    ///   `ParallelError(.notSerializable)` when the job's `encode(to:)` fails.
    public func run() async throws -> J.Output {
        guard let folder else { return try await job.run() }
        let key = try CacheKey(
            name: "job " + stableTypeName(J.self), version: version, argument: job, resultType: J.Output.self)
        return try await folder.value(for: key) { try await job.run() }
    }
}
