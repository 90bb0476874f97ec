import Foundation
@_spi(Locking) import ParallelCore

// The few questions asked of SLURM's controller: why a worker has not started (once, at its
// start-up timeout), cancel a worker's job (when the pool killed its srun), and, at program exit,
// cancel whatever job of this process is left — one squeue for all of them, then one scancel.
// Nothing polls: a worker's end is seen through its srun's exit.

enum SLURMQueue {
    /// The user whose jobs these are.
    static var user: String {
        ProcessInfo.processInfo.environment["USER"] ?? String(cString: getpwuid(getuid()).pointee.pw_name)
    }

    /// The user's jobs as `id name state reason nodes` lines, from one squeue shared by every
    /// worker that asks within 5 s: when a pool's 64 workers reach their start-up timeout together
    /// the controller is asked once, not 64 times (submitit's users hit its query limit).
    static func snapshot() -> (status: Int32, lines: [String]) {
        let now = ContinuousClock.now
        return recentQueue.withLock { cached in
            if let cached, now - cached.taken < .seconds(5) { return (cached.status, cached.lines) }
            let query = Command.run(["squeue", "--noheader", "--user=\(user)", "--format=%i %j %T %r %N"])
            let lines = query.output.split(separator: "\n").map(String.init)
            cached = (now, query.status, lines)
            return (query.status, lines)
        }
    }

    private static let recentQueue = LockedValue<(taken: ContinuousClock.Instant, status: Int32, lines: [String])?>(nil)

    static func describeStartTimeout(jobName: String, address: String, timeout: Duration) -> String {
        let queue = snapshot()
        var text = "the SLURM job \(jobName) did not connect back to \(address) within \(timeout)"
        // id, state, reason, nodes: the line of this job, without its name.
        var fields: [Substring] = []
        for line in queue.lines {
            let parts = line.split(separator: " ")
            if parts.count >= 4 && parts[1] == jobName {
                fields = [parts[0]] + Array(parts[2...])
                break
            }
        }
        if queue.status == 0, fields.count >= 3 {
            let (id, state, reason) = (fields[0], fields[1], fields[2])
            if state == "PENDING" {
                text +=
                    ": it is still pending (job \(id), reason: \(reason)); the partition has no free resources for it "
                    + "yet, or never will (check partition, account and limits). Raise PARALLELKIT_SLURM_START_TIMEOUT to wait longer."
            } else {
                text +=
                    ": squeue says job \(id) is \(state)" + (fields.count >= 4 ? " on node \(fields[3])" : "")
                    + "; the worker could not reach \(address) from there (set \(ListenAddress.variable) to an address the nodes can reach)."
            }
        } else {
            text +=
                queue.status == 0
                ? "; squeue shows no such job any more." : "; squeue failed: \(queue.lines.joined(separator: " "))"
        }
        return text + " The job was cancelled."
    }

    static func cancel(jobName: String) {
        Command.runDetached(["scancel", "--quiet", "--name=\(jobName)", "--user=\(user)"])
    }

    /// Job name prefixes of live pools, cancelled at exit.
    static let livePrefixes = LockedValue<Set<String>>([])
    private static let exitHandler: Void = { atexit { SLURMQueue.cancelLeftovers() } }()

    static func register(prefix: String) {
        _ = exitHandler
        _ = livePrefixes.withLock { $0.insert(prefix) }
    }

    static func unregister(prefix: String) {
        _ = livePrefixes.withLock { $0.remove(prefix) }
    }

    /// One squeue for this user's jobs; scancel of those a live pool of this process named.
    static func cancelLeftovers() {
        let prefixes = livePrefixes.withLock { $0 }
        guard !prefixes.isEmpty else { return }
        let query = Command.run(["squeue", "--noheader", "--user=\(user)", "--format=%i %j"])
        guard query.status == 0 else { return }
        let ids = query.output.split(separator: "\n").compactMap { line -> String? in
            let fields = line.split(separator: " ", maxSplits: 1)
            guard fields.count == 2, prefixes.contains(where: { fields[1].hasPrefix($0) }) else { return nil }
            return String(fields[0])
        }
        if !ids.isEmpty { _ = Command.run(["scancel", "--quiet"] + ids) }
    }
}
