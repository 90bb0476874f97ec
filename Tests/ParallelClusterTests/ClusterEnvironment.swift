import Foundation
import ParallelKit
import Testing

@testable import ParallelCluster

/// Whether the real engines are here (Scripts/cluster-up.sh started them). With
/// PARALLELKIT_CLUSTER_TESTS=1 (CI's cluster stage) the cluster tests run regardless and fail if
/// an engine is missing; with PARALLELKIT_CLUSTER_TESTS=0 (CI's main `swift test`, whose timing
/// tests must not share the machine with SLURM jobs) they are skipped, saying so; unset, they are
/// skipped on a machine that has neither engine, so `swift test` passes.
enum ClusterEnvironment {
    static let required = ProcessInfo.processInfo.environment["PARALLELKIT_CLUSTER_TESTS"] == "1"
    static let turnedOff = ProcessInfo.processInfo.environment["PARALLELKIT_CLUSTER_TESTS"] == "0"

    /// `ssh -o BatchMode=yes localhost true` logs in.
    static let sshAvailable: Bool = {
        Command.run(["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=5", "localhost", "true"]).status == 0
    }()

    /// `sinfo` answers and shows a node that can run jobs.
    ///
    /// Unless the cluster tests are required, `sinfo` gets 3 s, then SIGKILL (it does not end on
    /// SIGTERM while it waits). With SLURM installed but no controller running it waits out its
    /// message timeout (9–10 s), and this is evaluated while `swift test` plans the run, so every
    /// plain `swift test` on such a machine started that much later. A running controller answers
    /// in milliseconds.
    static let slurmAvailable: Bool = {
        let sinfo = ["sinfo", "--noheader", "--format=%T"]
        let query = Command.run(required ? sinfo : ["timeout", "--signal=KILL", "3"] + sinfo)
        return query.status == 0 && ["idle", "mixed", "allocated", "completing"].contains { query.output.contains($0) }
    }()

    /// The SLURM cluster is the one Scripts/cluster-up.sh made (tests may take its node down).
    static let slurmIsOurs: Bool = {
        let configuration = (try? String(contentsOfFile: "/etc/slurm/slurm.conf", encoding: .utf8)) ?? ""
        return configuration.contains("# written by ParallelKit Scripts/cluster-up.sh")
    }()

    static var runSSH: Bool { !turnedOff && (required || sshAvailable) }
    static var runSLURM: Bool { !turnedOff && (required || slurmAvailable) }

    /// Why the ssh suites are skipped (shown by `swift test` when they are).
    static var sshSkipReason: Comment {
        turnedOff
            ? "PARALLELKIT_CLUSTER_TESTS=0: the ssh tests are turned off (CI runs them in their own stage)"
            : "`ssh -o BatchMode=yes localhost` does not log in: run Scripts/cluster-up.sh"
    }

    /// Why the SLURM suite is skipped.
    static var slurmSkipReason: Comment {
        turnedOff
            ? "PARALLELKIT_CLUSTER_TESTS=0: the SLURM tests are turned off (CI runs them in their own stage)"
            : "no usable SLURM node (sinfo): run Scripts/cluster-up.sh"
    }

    /// Fails the test with what to do when the engine it needs is missing (only reached when
    /// required).
    static func expectSSH(sourceLocation: SourceLocation = #_sourceLocation) async -> Bool {
        // The first look runs ssh (up to its 5 s connect timeout): off Swift's cooperative pool.
        if await offPool({ sshAvailable }) { return true }
        Issue.record(
            "`ssh -o BatchMode=yes localhost true` does not log in: run Scripts/cluster-up.sh (as root) first",
            sourceLocation: sourceLocation)
        return false
    }

    static func expectSLURM(sourceLocation: SourceLocation = #_sourceLocation) async -> Bool {
        if await offPool({ slurmAvailable }) { return true }
        Issue.record(
            "`sinfo` shows no usable SLURM node: run Scripts/cluster-up.sh (as root) first",
            sourceLocation: sourceLocation)
        return false
    }

    /// Job names in squeue that start with `prefix` (squeue runs off the cooperative pool).
    static func queuedJobs(prefix: String) async -> [String] {
        let query = await Command.runOffPool(["squeue", "--noheader", "--format=%j %T"])
        return query.output.split(separator: "\n").map(String.init).filter { $0.hasPrefix(prefix) }
    }
}

/// Runs `body` on a thread of its own and returns its result: for blocking waits (a child's exit,
/// accept, ssh) in async tests. Swift's cooperative pool has one thread per core (two here), and a
/// test blocking them stalls every other test in the process: timing tests then fail.
func offPool<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
    try await withCheckedThrowingContinuation { continuation in
        let thread = Thread { continuation.resume(with: Result { try body() }) }
        thread.name = "pk-test-blocking-wait"
        thread.start()
    }
}

/// `offPool` for a body that cannot throw.
func offPool<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
    await withCheckedContinuation { continuation in
        let thread = Thread { continuation.resume(returning: body()) }
        thread.name = "pk-test-blocking-wait"
        thread.start()
    }
}

/// Reports where it ran: the environment variables that prove a worker ran under ssh or SLURM.
struct WhereJob: ParallelJob {
    var index: Int
    func run() async throws -> Report {
        let environment = ProcessInfo.processInfo.environment
        return Report(
            index: index, pid: getpid(), sshConnection: environment["SSH_CONNECTION"],
            slurmJobID: environment["SLURM_JOB_ID"], ompNumThreads: environment["OMP_NUM_THREADS"])
    }

    struct Report: Codable, Sendable {
        var index: Int
        var pid: Int32
        var sshConnection: String?
        var slurmJobID: String?
        var ompNumThreads: String?
    }
}

/// An error that crosses as itself.
struct ClusterTestError: Error, Codable, Equatable {
    var index: Int
}

/// Throws at `failAt`, crashes at `crashAt`, sleeps `sleepAt` for `sleepMilliseconds`.
struct ClusterJob: ParallelJob {
    var index: Int
    var failAt: Int = -1
    var crashAt: Int = -1
    var sleepAt: Int = -1
    var sleepMilliseconds: Int = 0

    func run() async throws -> Int {
        if index == failAt { throw ClusterTestError(index: index) }
        if index == crashAt { fatalError("ClusterJob \(index) crashed on purpose") }
        if index == sleepAt { usleep(UInt32(sleepMilliseconds) * 1000) }
        return index * index
    }
}

/// Polls `condition` until it holds or `timeout` passes (for states of outside daemons, which
/// offer no event to wait on). Returns whether it held. A condition that runs a command awaits it
/// off the cooperative pool (`Command.runOffPool`).
func eventually(timeout: Duration = .seconds(20), _ condition: () async -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(100))
    }
    return await condition()
}

/// Writes where it runs (its SLURM job id, its pid) to `marker`, then sleeps: a task to cancel
/// from outside while it runs.
struct MarkedSleepJob: ParallelJob {
    var index: Int
    var markAt: Int
    var marker: String
    var seconds: Int

    func run() async throws -> Int {
        // Only the first start marks and sleeps: a retry finds the marker and returns at once.
        if index == markAt && !FileManager.default.fileExists(atPath: marker) {
            let job = ProcessInfo.processInfo.environment["SLURM_JOB_ID"] ?? "none"
            try "\(job) \(getpid())".write(toFile: marker + ".tmp", atomically: false, encoding: .utf8)
            rename(marker + ".tmp", marker)
            sleep(UInt32(seconds))
        }
        return index
    }
}

/// A fresh path in the temporary folder (the file is not created).
func temporaryPath(_ name: String) -> String {
    NSTemporaryDirectory() + "/pk-cluster-\(getpid())-\(UInt64.random(in: 0...UInt64.max))-\(name)"
}

/// Runs in a local worker process (the "parent" of a test): starts SLURM workers, writes their
/// job name prefix to `prefixFile`, then kills itself.
struct SLURMOrphanMakerJob: ParallelJob {
    var prefixFile: String

    func run() async throws -> Int {
        let backend = SLURMBackend(startTimeout: .seconds(60), idleTimeout: .seconds(600))
        _ = try await Parallel(nJobs: 2, backend: .instance(backend))((0..<8).map { ClusterJob(index: $0) })
        try backend.jobNamePrefix.write(toFile: prefixFile, atomically: true, encoding: .utf8)
        kill(getpid(), SIGKILL)
        return 0
    }
}

/// Carries a non-Sendable value to the thread of `offPool` and back.
///
/// `@unchecked Sendable`: one side uses the value at a time. The awaiting test does not touch it
/// until the continuation resumes, which happens after the thread's last use (the continuation's
/// resume is the synchronisation point).
struct Handoff<Value>: @unchecked Sendable {
    let value: Value
}
