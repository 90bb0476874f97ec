@_spi(Locking) import ParallelCore

/// Runs every task in the calling task, one after the other: joblib's `sequential` backend, and
/// what every backend does when `nJobs` resolves to 1.
///
/// Its ``effectiveNJobs(_:)`` is always 1, so the engine runs calls on it in the caller, with no
/// threads. Use it to debug: the code path is the same for every backend.
public final class SequentialBackend: ParallelBackend {
    /// Creates the backend.
    public init() {}

    /// `SequentialBackend`.
    public var displayName: String { "SequentialBackend" }

    /// Runs in this process and shares its memory.
    public var capabilities: BackendCapabilities {
        BackendCapabilities(usesThreads: true, supportsSharedMemory: true, runsOutOfProcess: false)
    }

    /// Always 1.
    public func effectiveNJobs(_ requested: Int) -> Int { 1 }

    /// Runs batches one at a time, in submission order. The engine does not use this (the call
    /// runs in the caller), but a backend that wraps this one may.
    public func startCall(_ context: BackendCallContext) async throws -> any BackendCall {
        SequentialBackendCall()
    }
}

/// The sequential backend's handle for one call: runs submitted batches one after another on the
/// cooperative pool. (The engine's own one-worker path, `SequentialCall`, is a different thing: it
/// drives a call whose nJobs resolved to 1 in the calling task and never uses a backend call.)
final class SequentialBackendCall: BackendCall {
    private struct State {
        /// The last submitted batch's task; each new one waits for it.
        var tail: Task<Void, Never>?
        /// Every batch task not yet finished, so an abort reaches the queued ones too.
        var tasks: [Int: Task<Void, Never>] = [:]
        var aborted = false
    }

    private let lockedState = LockedValue(State())

    func submit(_ batch: TaskBatch, completion: @escaping @Sendable (BatchOutcome) -> Void) {
        let key = batch.firstIndex
        lockedState.withLock { state in
            guard !state.aborted else { return }
            let previous = state.tail
            let task = Task { [self] in
                await previous?.value
                if !Task.isCancelled { completion(await batch.run()) }
                _ = lockedState.withLock { $0.tasks.removeValue(forKey: key) }
            }
            state.tail = task
            state.tasks[key] = task
        }
    }

    func abort() {
        let tasks = lockedState.withLock { state -> [Task<Void, Never>] in
            state.aborted = true
            defer { state.tasks.removeAll() }
            return Array(state.tasks.values)
        }
        for task in tasks { task.cancel() }
    }
}
