/// What the dispatch engine runs: a `Sendable` unit of work with a `Sendable` output.
///
/// ``Delayed`` and ``JobTask`` conform; the engine is generic over this protocol so that the
/// per-task path has no existential boxing and no per-task allocation beyond the result itself.
package protocol EngineTask: Sendable {
    associatedtype Output: Sendable

    /// Runs the task in the current process, on the current executor.
    func runHere() async throws -> Output
}
