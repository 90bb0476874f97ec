import Foundation

// The process backends' pool also runs workers on other machines (ParallelCluster's "ssh" and
// "slurm"): a launcher process started here (`ssh host exe`, `srun exe`) stands for the worker —
// its pid, pidfd, exit status and stderr are the worker's as far as the pool can tell — and the
// worker's frames arrive over a TCP connection it opens back to the parent once it has proven
// the pool's secret. These types are that seam; everything about TCP and authentication lives in
// ParallelCluster.

/// How a remote worker is named in messages, how long it may take to connect back, and what to do
/// when it ends.
package struct RemoteWorker: Sendable {
    /// Matches the authenticated connection to this launch (`WorkerPool.attach(token:…)`).
    package let token: UInt64
    /// Names the worker in messages, such as "the worker on node n12 (srun pid 812)".
    package var name: String
    /// How long, from launch, until the worker must have connected back and said hello.
    package let startTimeout: Duration
    /// Explains a worker that did not connect within `startTimeout` (may ask the scheduler why;
    /// runs on the event loop thread, rarely).
    package let describeStartTimeout: @Sendable () -> String
    /// Called once when the launcher has ended; `killed` when the pool killed it (abort, start
    /// timeout, retire grace over), so a scheduler job may need cancelling.
    package let ended: @Sendable (_ killed: Bool) -> Void

    /// Describes a remote worker.
    package init(
        token: UInt64, name: String, startTimeout: Duration, describeStartTimeout: @escaping @Sendable () -> String,
        ended: @escaping @Sendable (_ killed: Bool) -> Void
    ) {
        self.token = token
        self.name = name
        self.startTimeout = startTimeout
        self.describeStartTimeout = describeStartTimeout
        self.ended = ended
    }
}

/// Starts remote workers for a `WorkerPool` (ParallelCluster's ssh and srun launchers).
package protocol RemoteWorkerLauncher: Sendable {
    /// Starts the launcher of one worker; called on the event loop thread.
    /// - Throws: when the launcher cannot even be started (a missing `ssh` or `srun`).
    func launch(token: UInt64) throws -> SpawnedProcess
}
