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
/// A task made from a synchronous function (`delayed(f)` with a non-`async` `f`) is stored as a
/// synchronous closure and run without an async call, which costs a few times less per task.
///
/// - Concurrency: the work is `@Sendable`; a backend may run it on any thread, at most once.
public struct Delayed<Output: Sendable>: Sendable {
    @usableFromInline
    enum Work: Sendable {
        case synchronous(@Sendable () throws -> Output)
        case asynchronous(@Sendable () async throws -> Output)
    }

    @usableFromInline let work: Work

    /// Creates a task from a closure.
    ///
    /// Disfavoured so that a closure with no `await` picks the synchronous overload (both accept
    /// it, and the type checker would otherwise call the choice ambiguous).
    /// - Parameter body: the work; it runs at most once, on whichever thread the backend chooses.
    @_disfavoredOverload
    public init(_ body: @escaping @Sendable () async throws -> Output) {
        work = .asynchronous(body)
    }

    /// Creates a task from a synchronous closure: it runs as a plain call, with no async call and
    /// no executor hop (`Delayed { c() }` with a synchronous body picks this overload, and so does
    /// `delayed(f)` for a synchronous `f`).
    /// - Parameter body: the work; it runs at most once, on whichever thread the backend chooses.
    @inlinable
    public init(_ body: @escaping @Sendable () throws -> Output) {
        work = .synchronous(body)
    }

    /// The task's work as an async closure, for running it yourself.
    public var body: @Sendable () async throws -> Output {
        switch work {
        case .synchronous(let body): { try body() }
        case .asynchronous(let body): body
        }
    }

    /// The task's closure when it is synchronous, `nil` when it is `async`: for the engine's paths
    /// that run a synchronous call in place (a small call's index loop).
    @inlinable
    package var synchronousBody: (@Sendable () throws -> Output)? {
        if case .synchronous(let body) = work { body } else { nil }
    }

    /// Runs the task's work here, on the caller's executor (no hop for a synchronous task).
    @inlinable
    public nonisolated(nonsending) func run() async throws -> Output {
        switch work {
        case .synchronous(let body): try body()
        case .asynchronous(let body): try await body()
        }
    }
}
