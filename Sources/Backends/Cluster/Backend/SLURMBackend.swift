import Foundation
@_spi(Locking) import ParallelCore
import ParallelProcess
import Synchronization

/// Runs ParallelJobs on a SLURM cluster: workers are this executable started by SLURM on the
/// cluster's nodes, connecting back to the caller over TCP and proving a shared secret.
///
/// ```swift
/// let slurm = SLURMBackend(partition: "short", timeLimit: .seconds(3600))
/// let results = try await Parallel(nJobs: 64, backend: .instance(slurm))(jobs)
/// ```
///
/// Each worker is one `srun` of a one-task job (`--ntasks=1 --cpus-per-task=…`), started from
/// this process: no batch script. It connects back to this process (the host's non-loopback
/// address, or `PARALLELKIT_LISTEN_ADDRESS`) and proves a fresh per-pool secret read from a 0600
/// file in a folder the nodes share (`PARALLELKIT_SLURM_SHARED_DIR`, default `~/.parallelkit`),
/// by HMAC-SHA256 challenge-response both ways; a worker running another build of the
/// executable is refused. Workers are reused across calls and end after an idle timeout (60 s),
/// when the backend is released, when the program exits, or when it is killed (they see their
/// connection close). A worker whose job is cancelled, preempted, hits its time limit or loses
/// its node is a `.workerCrashed` for its task quoting SLURM's message. `SharedArray`s travel as
/// bytes: memory cannot be mapped across nodes.
///
/// - Concurrency: thread-safe; calls may overlap and share the workers.
public final class SLURMBackend: ParallelBackend {
    private let settings: Result<SLURMSettings, ParallelError>
    private let cluster = LockedValue<ClusterPool?>(nil)
    private let jobPrefix: String
    private let poolNumber: Int
    private static let nextPool = Atomic<Int>(1)

    /// Creates a backend; nothing is submitted before its first call.
    /// - Parameters:
    ///   - partition: `--partition`, or nil for the cluster's default.
    ///   - account: `--account`, or nil.
    ///   - timeLimit: `--time` of each worker's job, or nil for the partition's default. A worker
    ///     that reaches it is ended by SLURM: its task is a `.workerCrashed`.
    ///   - cpusPerTask: `--cpus-per-task` of each worker (1 or more).
    ///   - memoryPerCPU: `--mem-per-cpu`, such as `"2G"`, or nil.
    ///   - extraArguments: more srun options, passed as given (`["--qos=debug"]`).
    ///   - workerExecutable: the program the nodes run; nil for this executable's path, which
    ///     must then exist on the nodes (a shared file system).
    public convenience init(
        partition: String? = nil, account: String? = nil, timeLimit: Duration? = nil, cpusPerTask: Int = 1,
        memoryPerCPU: String? = nil, extraArguments: [String] = [], workerExecutable: String? = nil
    ) {
        let environment = ProcessInfo.processInfo.environment
        self.init(
            settings: .success(
                SLURMSettings(
                    partition: partition, account: account, timeLimit: timeLimit, cpusPerTask: cpusPerTask,
                    memoryPerCPU: memoryPerCPU, extraArguments: extraArguments, workerExecutable: workerExecutable,
                    startTimeout: (try? SettingParser.seconds(
                        "PARALLELKIT_SLURM_START_TIMEOUT", in: environment, default: .seconds(120))) ?? .seconds(120),
                    idleTimeout: (try? SettingParser.seconds(
                        "PARALLELKIT_SLURM_IDLE_TIMEOUT", in: environment, default: .seconds(60))) ?? .seconds(60),
                    sharedDirectory: SLURMSettings.defaultSharedDirectory(environment))))
    }

    /// The registered `"slurm"`: settings from `PARALLELKIT_SLURM_*` (an invalid one fails the
    /// first call with a message naming it).
    package static func fromEnvironment() -> SLURMBackend {
        SLURMBackend(
            settings: Result { try SLURMSettings.fromEnvironment(ProcessInfo.processInfo.environment) }
                .mapError { $0 as? ParallelError ?? ParallelError(.invalidArgument, "\($0)") })
    }

    /// A backend with explicit timeouts (tests).
    package convenience init(
        partition: String? = nil, cpusPerTask: Int = 1, timeLimit: Duration? = nil, extraArguments: [String] = [],
        startTimeout: Duration, idleTimeout: Duration = .seconds(60)
    ) {
        let environment = ProcessInfo.processInfo.environment
        self.init(
            settings: .success(
                SLURMSettings(
                    partition: partition, account: nil, timeLimit: timeLimit, cpusPerTask: cpusPerTask,
                    memoryPerCPU: nil,
                    extraArguments: extraArguments, workerExecutable: nil, startTimeout: startTimeout,
                    idleTimeout: idleTimeout,
                    sharedDirectory: SLURMSettings.defaultSharedDirectory(environment))))
    }

    private init(settings: Result<SLURMSettings, ParallelError>) {
        self.settings = settings.flatMap { settings in
            Result {
                try settings.validate(); return settings
            }.mapError { $0 as? ParallelError ?? ParallelError(.invalidArgument, "\($0)") }
        }
        poolNumber = Self.nextPool.wrappingAdd(1, ordering: .relaxed).oldValue
        jobPrefix = "pk-\(getpid())-\(poolNumber)-"
    }

    deinit {
        cluster.withLock { $0 }?.shutdown()
        SLURMQueue.unregister(prefix: jobPrefix)
    }

    /// `SLURMBackend`.
    public var displayName: String { "SLURMBackend" }

    /// Out of process, no shared memory, honours `innerMaxNumThreads`: workers get
    /// `OMP_NUM_THREADS` and the other native thread limits set to it, else to `cpusPerTask`,
    /// fixed for the life of the backend's workers (a call with another value is refused).
    public var capabilities: BackendCapabilities {
        BackendCapabilities(
            usesThreads: false, supportsSharedMemory: false, runsOutOfProcess: true, supportsInnerMaxNumThreads: true)
    }

    /// Batches of 50 ms to 1 s (a network round trip costs more than a pipe's).
    public var autoBatching: AutoBatchingPolicy { .remoteWorkers }

    /// Refuses job types a worker cannot find by name, before anything is submitted.
    public func validate(jobType: any ParallelJob.Type) throws {
        if let error = JobTypeResolver.checkJobType(jobType) { throw error }
    }

    /// Submits workers if needed (waiting for the first to connect) and returns the call.
    /// - Throws: `ParallelError(.invalidArgument)` for bad settings; `.workerCrashed` when no
    ///   worker started within the start-up timeout (with what srun or squeue said).
    public func startCall(_ context: BackendCallContext) async throws -> any BackendCall {
        try WorkerLaunch.checkMayStartWorkers()
        let settings = try self.settings.get()
        // The executable's digest (the workers must run the same build), first computed off
        // Swift's cooperative pool.
        let build = await BuildIdentity.currentOffPool()
        let jobPrefix = self.jobPrefix
        let poolNumber = self.poolNumber
        let cluster = try cluster.withLock { cluster -> ClusterPool in
            if let cluster { return cluster }
            let environment = ProcessInfo.processInfo.environment
            // A worker owns its job's CPUs: native thread pools get that many threads, unless
            // the call's scope says otherwise (innerMaxNumThreads).
            let threadLimit = context.innerMaxNumThreads ?? settings.cpusPerTask
            let limitNames = Set(WorkerEnvironment.threadLimitVariables)
            do {
                let secret = try SecureRandom.bytes(32)
                let secretFile = try SecretFile.write(secret, in: settings.sharedDirectory, pool: poolNumber)
                let listenHost = ListenAddress.choose(allLocal: false, environment: environment)
                let made = try ClusterPool(
                    listenHost: listenHost, build: build, secret: secret, secretFile: secretFile,
                    idleTimeout: settings.idleTimeout,
                    threadLimit: threadLimit
                ) { listener in
                    SrunLauncher(
                        settings: settings, listener: listener, secretFile: secretFile,
                        environment: environment.filter {
                            !$0.key.hasPrefix("PARALLELKIT_") && !limitNames.contains($0.key)
                        }
                        .map { "\($0.key)=\($0.value)" } + ClusterPool.threadLimitEntries(threadLimit),
                        jobPrefix: jobPrefix)
                }
                SLURMQueue.register(prefix: jobPrefix)
                cluster = made
                return made
            } catch let error as ClusterFailure {
                throw ParallelError(.workerCrashed, "SLURMBackend: \(error)")
            }
        }
        return try await cluster.startCall(context, backendName: "SLURMBackend")
    }

    /// The srun pids of live workers (for tests).
    package func liveLauncherPIDs() async -> [pid_t] {
        guard let cluster = cluster.withLock({ $0 }) else { return [] }
        return await cluster.liveLauncherPIDs()
    }

    /// Every job name of this backend starts with this (for tests and squeue).
    package var jobNamePrefix: String { jobPrefix }

    /// The pool's listener (for tests: its address and refusals).
    package var listener: PoolListener? { cluster.withLock { $0 }?.listener }
}
