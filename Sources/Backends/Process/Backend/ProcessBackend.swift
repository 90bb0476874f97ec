import Foundation
@_spi(Locking) import ParallelCore

/// The `"process"` backend (alias `"loky"`): a reusable pool of worker processes that re-run this
/// executable, as joblib's loky backend does.
///
/// The pool starts on the first call, is shared by overlapping calls and reused by later ones,
/// grows or shrinks to the call's `nJobs`, and its idle workers end after
/// ``idleWorkerTimeout``. All end when the program exits, also when it is killed (each worker
/// has a parent-death signal and sees end of file on its request pipe).
///
/// Tasks must be ``ParallelJob``s. A task that traps, segfaults or exits ends only its worker:
/// the call throws `ParallelError(.workerCrashed)` naming the task, the signal or exit status and
/// the worker's last stderr lines, and the worker is replaced. Workers get `OMP_NUM_THREADS` and
/// the other native thread limits: `innerMaxNumThreads`, else the parent's value, else
/// `max(cpuCount() / nJobs, 1)`.
///
/// - Concurrency: thread-safe; calls may overlap. Each call runs at most `nJobs` batches at once.
public final class ProcessBackend: ParallelBackend {
    /// The program workers run; nil means this executable (`/proc/self/exe`).
    public let workerExecutable: String?
    /// How long a worker may stay idle before it ends.
    public let idleWorkerTimeout: Duration

    /// Pools by worker environment: a call with other thread limits gets workers started with
    /// them, as loky makes a new executor when the environment changes. Only the pools of the
    /// latest environment are kept: a call with another one drops the others from here, and each
    /// dropped pool ends its workers when its last running call ends.
    private let pools = LockedValue<[String: WorkerPool]>([:])

    /// Creates a backend; no process starts before its first call.
    /// - Parameters:
    ///   - workerExecutable: a ParallelKit program to run as workers, or nil for this executable.
    ///   - idleWorkerTimeout: idle workers end after this long (loky's default is 300 s).
    public init(workerExecutable: String? = nil, idleWorkerTimeout: Duration = .seconds(300)) {
        self.workerExecutable = workerExecutable
        self.idleWorkerTimeout = idleWorkerTimeout
    }

    /// Ends the workers of a backend that is no longer referenced (their calls have ended: a call
    /// keeps its pool alive).
    deinit {
        let all = pools.withLock { Array($0.values) }
        guard !all.isEmpty else { return }
        EventLoop.shared.execute { for pool in all { pool.shutdown(done: nil) } }
    }

    /// `ProcessBackend`.
    public var displayName: String { "ProcessBackend" }

    /// Out of process, no shared memory, honours `innerMaxNumThreads`.
    public var capabilities: BackendCapabilities {
        WorkerLaunch.capabilities(threadLimits: true)
    }

    /// Batches of 20 ms to 0.5 s (see `AutoBatchingPolicy.workerProcesses`).
    public var autoBatching: AutoBatchingPolicy { .workerProcesses }

    /// Refuses job types a worker cannot find by name (private, fileprivate or local types), before
    /// the call takes any input or starts a worker.
    public func validate(jobType: any ParallelJob.Type) throws {
        try WorkerLaunch.validate(jobType: jobType)
    }

    /// Starts workers if needed (waiting for the first to be ready) and returns the call.
    /// - Throws: `ParallelError(.workerCrashed)` when no worker can be started, with the reason.
    public func startCall(_ context: BackendCallContext) async throws -> any BackendCall {
        try WorkerLaunch.checkMayStartWorkers()
        try WorkerLaunch.checkTempFolder(context)
        let limits = WorkerEnvironment.threadLimits(
            nJobs: context.nJobs, innerMaxNumThreads: context.innerMaxNumThreads, cpuCount: cpuCount(),
            parent: ProcessInfo.processInfo.environment)
        let key = limits.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ",")
        let (pool, others) = pools.withLock { pools -> (WorkerPool, [WorkerPool]) in
            let pool =
                pools[key]
                ?? WorkerPool(
                    configuration: WorkerLaunch.configuration(
                        executable: workerExecutable, overrides: limits, idleTimeout: idleWorkerTimeout))
            let others = pools.filter { $0.key != key }.map(\.value)
            pools = [key: pool]
            return (pool, others)
        }
        // Workers started with other limits are not reused: each such pool ends its workers once
        // the calls still running on it (which keep it alive) have ended.
        if !others.isEmpty { EventLoop.shared.execute { for other in others { other.retireWhenUnused() } } }
        return try await WorkerLaunch.startCall(on: pool, context: context, ownsPool: false)
    }

    /// How many pools the backend keeps (for tests: it stays at most 1 whatever the calls' limits).
    var poolCount: Int { pools.withLock { $0.count } }

    /// The pids of the live workers (for tests and diagnostics).
    func liveWorkerPIDs() async -> [pid_t] {
        let all = pools.withLock { Array($0.values) }
        return await EventLoop.shared.submit { all.flatMap(\.liveWorkerPIDs) }
    }
}
