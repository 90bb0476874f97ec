import Glibc
@_spi(Locking) import ParallelCore

// Every live worker of this process, so that they can be killed when the process exits normally.
// (A parent that is killed is covered by the workers' PR_SET_PDEATHSIG and end of file on fd 3.)

/// The pids of this process's live workers.
///
/// - Concurrency: thread-safe.
final class ProcessRegistry: Sendable {
    static let shared = ProcessRegistry()

    private let pids = LockedValue<Set<pid_t>>([])

    private init() {
        atexit { ProcessRegistry.shared.killAll() }
    }

    func insert(_ pid: pid_t) { _ = pids.withLock { $0.insert(pid) } }
    func remove(_ pid: pid_t) { _ = pids.withLock { $0.remove(pid) } }

    /// Live worker count (for tests and diagnostics).
    var count: Int { pids.withLock { $0.count } }

    /// SIGKILLs every live worker and reaps it, so none outlives a process that exits.
    func killAll() {
        let all = pids.withLock { pids in
            defer { pids.removeAll() }
            return pids
        }
        for pid in all { kill(pid, SIGKILL) }
        for pid in all {
            var status: Int32 = 0
            while waitpid(pid, &status, 0) < 0 && errno == EINTR {}
        }
    }
}
