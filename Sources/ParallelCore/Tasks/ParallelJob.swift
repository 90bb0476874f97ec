/// A task that can cross a process boundary: the analogue of a picklable function call.
///
/// A job is a `Codable` value whose ``run()`` does the work. Process backends encode the value,
/// send it to a worker process (this same executable, re-run in worker mode), find the type again
/// there by its type name, decode it, run it and send the output back. No registration is
/// needed, but the type must be reachable by name: `internal` or `public`, not `private`,
/// `fileprivate` or local to a function. Generic and nested types work.
///
/// ```swift
/// struct Square: ParallelJob {
///     var x: Int
///     func run() async throws -> Int { x * x }
/// }
/// let squares = try await Parallel(nJobs: 2, backend: "process")((0..<10).map { Square(x: $0) })
/// ```
///
/// A `ParallelJob` runs on every backend; in-process backends call ``run()`` directly.
public protocol ParallelJob<Output>: Codable, Sendable {
    /// What the job returns; it crosses back to the caller, so it is `Codable` too.
    associatedtype Output: Codable & Sendable

    /// Does the work. Runs at most once per submission, in a worker process or in this one.
    func run() async throws -> Output
}
