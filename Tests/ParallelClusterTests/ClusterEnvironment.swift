import Foundation
import ParallelKit
import Testing

@testable import ParallelCluster

/// Whether the real engines are here (Scripts/cluster-up.sh started them). With
/// PARALLELKIT_CLUSTER_TESTS=1 (CI) the cluster tests run regardless and fail if an engine is
/// missing; without it they are skipped on a machine that has neither, so `swift test` passes.
enum ClusterEnvironment {
    static let required = ProcessInfo.processInfo.environment["PARALLELKIT_CLUSTER_TESTS"] == "1"

    /// `ssh -o BatchMode=yes localhost true` logs in.
    static let sshAvailable: Bool = {
        Command.run(["ssh", "-o", "BatchMode=yes", "-o", "ConnectTimeout=5", "localhost", "true"]).status == 0
    }()

    /// `sinfo` answers and shows a node that can run jobs.
    static let slurmAvailable: Bool = {
        let query = Command.run(["sinfo", "--noheader", "--format=%T"])
        return query.status == 0 && ["idle", "mixed", "allocated", "completing"].contains { query.output.contains($0) }
    }()

    /// The SLURM cluster is the one Scripts/cluster-up.sh made (tests may take its node down).
    static let slurmIsOurs: Bool = {
        let configuration = (try? String(contentsOfFile: "/etc/slurm/slurm.conf", encoding: .utf8)) ?? ""
        return configuration.contains("# written by ParallelKit Scripts/cluster-up.sh")
    }()

    static var runSSH: Bool { required || sshAvailable }
    static var runSLURM: Bool { required || slurmAvailable }

    /// Fails the test with what to do when the engine it needs is missing (only reached when
    /// required).
    static func expectSSH(sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
        if sshAvailable { return true }
        Issue.record("`ssh -o BatchMode=yes localhost true` does not log in: run Scripts/cluster-up.sh (as root) first", sourceLocation: sourceLocation)
        return false
    }

    static func expectSLURM(sourceLocation: SourceLocation = #_sourceLocation) -> Bool {
        if slurmAvailable { return true }
        Issue.record("`sinfo` shows no usable SLURM node: run Scripts/cluster-up.sh (as root) first", sourceLocation: sourceLocation)
        return false
    }

    /// Job names in squeue that start with `prefix`.
    static func queuedJobs(prefix: String) -> [String] {
        let query = Command.run(["squeue", "--noheader", "--format=%j %T"])
        return query.output.split(separator: "\n").map(String.init).filter { $0.hasPrefix(prefix) }
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
/// offer no event to wait on). Returns whether it held.
func eventually(timeout: Duration = .seconds(20), _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(100))
    }
    return condition()
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
