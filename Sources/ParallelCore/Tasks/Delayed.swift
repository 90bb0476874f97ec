/// A deferred function call: joblib's `delayed(f)(args…)` triple, as a Swift value.
///
/// A `Delayed` captures a function and its arguments and runs them only when a backend asks for
/// it. It runs on in-process backends (`"sequential"`, `"threading"`, and any backend when
/// `nJobs` resolves to 1). To cross a process boundary use a ``ParallelJob`` instead: closures
/// cannot be serialized in Swift.
///
/// ```swift
/// let roots = try await Parallel(nJobs: 2)((0..<10).map { i in delayed(sqrt)(Double(i * i)) })
/// ```
///
/// - Concurrency: the body is `@Sendable`; a backend may run it on any thread, at most once.
public struct Delayed<Output: Sendable>: Sendable {
    /// The work this task performs.
    public let body: @Sendable () async throws -> Output

    /// Creates a task from a closure.
    /// - Parameter body: the work; it runs at most once, on whichever thread the backend chooses.
    public init(_ body: @escaping @Sendable () async throws -> Output) {
        self.body = body
    }
}

extension Delayed: EngineTask {
    package func runHere() async throws -> Output {
        try await body()
    }
}
