import Foundation
@_spi(Locking) import ParallelCore
import ParallelProcess

/// Runs ParallelJobs on other machines reached with `ssh`: workers are this executable (the same
/// path on each host, or `workerExecutable`), started over ssh and connecting back.
///
/// ```swift
/// let backend = SSHBackend(hosts: ["node1:4", "node2:4"])
/// let squares = try await Parallel(nJobs: 8, backend: .instance(backend))(jobs)
/// ```
///
/// Each worker is `ssh -o BatchMode=yes <host> exec env PARALLELKIT_CONNECT=… <executable>`:
/// it connects back to this process over TCP (the host's non-loopback address, loopback when every
/// host is local, or `PARALLELKIT_LISTEN_ADDRESS`), and both sides prove a fresh per-pool secret
/// that travelled on ssh's standard input (HMAC-SHA256 challenge-response; the secret never
/// crosses the TCP connection). A worker running another build of the executable is refused.
/// Jobs, errors, timeouts, crashes and progress behave as on `"process"`; a worker that dies or
/// whose host drops is a `.workerCrashed` naming the task. `SharedArray`s travel as bytes.
///
/// - Concurrency: thread-safe; calls may overlap and share the workers.
public final class SSHBackend: ParallelBackend {
    /// The hosts and their worker counts, as given.
    public let hosts: [String]
    /// The program workers run; nil means this executable's path.
    public let workerExecutable: String?
    /// How long a worker may take to connect back.
    package let startTimeout: Duration
    /// Idle workers end after this long.
    package let idleTimeout: Duration

    private let parsedHosts: Result<[SSHLauncher.Host], ParallelError>
    private let cluster = LockedValue<ClusterPool?>(nil)

    /// Creates a backend; nothing starts before its first call.
    /// - Parameters:
    ///   - hosts: `"host"` (one worker) or `"host:N"` (N workers), as `ssh` names them
    ///     (`~/.ssh/config` applies). Must not be empty.
    ///   - workerExecutable: the program to run on the hosts; nil for this executable's path.
    public convenience init(hosts: [String], workerExecutable: String? = nil) {
        self.init(
            hosts: hosts, workerExecutable: workerExecutable, startTimeout: .seconds(30), idleTimeout: .seconds(300))
    }

    /// The registered `"ssh"`: hosts from `PARALLELKIT_SSH_HOSTS` (comma-separated, `host` or
    /// `host:N`); without it the first call fails with a message saying to set it.
    package static func fromEnvironment() -> SSHBackend {
        let text = ProcessInfo.processInfo.environment["PARALLELKIT_SSH_HOSTS"] ?? ""
        let hosts = text.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
        let missing = ParallelError(
            .invalidArgument,
            "the \"ssh\" backend has no hosts: set PARALLELKIT_SSH_HOSTS (such as \"node1:4,node2:4\") or pass "
                + ".instance(SSHBackend(hosts: [...]))")
        return SSHBackend(
            hosts: hosts, workerExecutable: nil, startTimeout: .seconds(30), idleTimeout: .seconds(300),
            emptyHostsError: missing)
    }

    /// Creates a backend with explicit start-up and idle timeouts.
    package init(
        hosts: [String], workerExecutable: String?, startTimeout: Duration, idleTimeout: Duration,
        emptyHostsError: ParallelError? = nil
    ) {
        self.hosts = hosts
        self.workerExecutable = workerExecutable
        self.startTimeout = startTimeout
        self.idleTimeout = idleTimeout
        if hosts.isEmpty, let emptyHostsError {
            self.parsedHosts = .failure(emptyHostsError)
        } else {
            self.parsedHosts = Self.parse(hosts)
        }
    }

    deinit { cluster.withLock { $0 }?.shutdown() }

    /// `SSHBackend`.
    public var displayName: String { "SSHBackend" }

    /// Out of process, no shared memory, honours `innerMaxNumThreads`: workers get
    /// `OMP_NUM_THREADS` and the other native thread limits set to it (else the hosts' own),
    /// fixed for the life of the backend's workers (a call with another value is refused).
    public var capabilities: BackendCapabilities {
        BackendCapabilities(
            usesThreads: false, supportsSharedMemory: false, runsOutOfProcess: true, supportsInnerMaxNumThreads: true)
    }

    /// Batches of 50 ms to 1 s (a network round trip costs more than a pipe's).
    public var autoBatching: AutoBatchingPolicy { .remoteWorkers }

    /// At most the hosts' total worker count, but never 1: one worker means "run in the calling
    /// task" to the engine, and a single remote worker must still run remotely (the pool then
    /// runs one batch at a time).
    public func effectiveNJobs(_ requested: Int) -> Int {
        guard case .success(let hosts) = parsedHosts else { return requested }
        return max(2, min(requested, totalSlots(hosts)))
    }

    private func totalSlots(_ hosts: [SSHLauncher.Host]) -> Int { hosts.map(\.slots).reduce(0, +) }

    /// Refuses job types a worker cannot find by name, before anything starts.
    public func validate(jobType: any ParallelJob.Type) throws {
        if let error = JobTypeResolver.checkJobType(jobType) { throw error }
    }

    /// Starts workers over ssh if needed (waiting for the first to connect) and returns the call.
    /// - Throws: `ParallelError(.invalidArgument)` for bad hosts; `.workerCrashed` when no worker
    ///   could be started within the start-up timeout, with ssh's own message.
    public func startCall(_ context: BackendCallContext) async throws -> any BackendCall {
        try WorkerLaunch.checkMayStartWorkers()
        let hosts = try parsedHosts.get()
        // The executable's digest (the workers must run the same build), first computed off
        // Swift's cooperative pool.
        let build = await BuildIdentity.currentOffPool()
        let cluster = try cluster.withLock { cluster -> ClusterPool in
            if let cluster { return cluster }
            let environment = ProcessInfo.processInfo.environment
            let listenHost = ListenAddress.choose(
                allLocal: hosts.allSatisfy { ListenAddress.isLocal($0.name) }, environment: environment)
            let secret = try SecureRandom.bytes(32)
            let executable = workerExecutable ?? SettingParser.thisExecutable()
            let timeout = startTimeout
            do {
                let made = try ClusterPool(
                    listenHost: listenHost, build: build, secret: secret, secretFile: nil, idleTimeout: idleTimeout,
                    threadLimit: context.innerMaxNumThreads
                ) { listener in
                    SSHLauncher(
                        hosts: hosts, executable: executable, listener: listener, secret: secret,
                        remoteEnvironment: ClusterPool.threadLimitEntries(context.innerMaxNumThreads),
                        startTimeout: timeout)
                }
                cluster = made
                return made
            } catch let error as ClusterFailure {
                throw ParallelError(.workerCrashed, "SSHBackend: \(error)")
            }
        }
        return try await cluster.startCall(context, backendName: "SSHBackend", maxWorkers: totalSlots(hosts))
    }

    /// The launchers' pids of live workers (for tests).
    package func liveLauncherPIDs() async -> [pid_t] {
        guard let cluster = cluster.withLock({ $0 }) else { return [] }
        return await cluster.liveLauncherPIDs()
    }

    /// The pool's listener (for tests: its address and refusals).
    package var listener: PoolListener? { cluster.withLock { $0 }?.listener }

    private static func parse(_ hosts: [String]) -> Result<[SSHLauncher.Host], ParallelError> {
        guard !hosts.isEmpty else {
            return .failure(
                ParallelError(
                    .invalidArgument,
                    "invalid hosts: the list is empty. Name at least one host, as \"host\" or \"host:N\" for N workers."
                ))
        }
        var parsed: [SSHLauncher.Host] = []
        for entry in hosts {
            let parts = entry.split(separator: ":", omittingEmptySubsequences: false)
            let name = String(parts[0])
            var slots = 1
            if parts.count == 2, let count = Int(parts[1]), count > 0 {
                slots = count
            } else if parts.count != 1 {
                return .failure(
                    ParallelError(
                        .invalidArgument,
                        "invalid hosts entry \"\(EchoedText.shortened(entry))\": expected \"host\" or \"host:N\" with N a positive number of workers (set an ssh port in ~/.ssh/config)."
                    ))
            }
            guard !name.isEmpty, !name.hasPrefix("-"), !name.contains(where: \.isWhitespace) else {
                return .failure(
                    ParallelError(
                        .invalidArgument,
                        "invalid hosts entry \"\(EchoedText.shortened(entry))\": a host name must not be empty, start with '-' or contain spaces."
                    ))
            }
            parsed.append(SSHLauncher.Host(name: name, slots: slots))
        }
        return .success(parsed)
    }
}
