import Foundation
import ParallelCore
import Synchronization

// What both process backends need to start a call: a check that this process may start workers,
// the pool configuration, and a wait for the first ready worker.

package enum WorkerLaunch {
    private static let nextCallID = Atomic<Int>(1)

    /// A new call id, unique in this process.
    package static func makeCallID() -> Int { nextCallID.wrappingAdd(1, ordering: .relaxed).oldValue }

    /// Fails in a process that was started as a worker but never entered worker mode: starting
    /// workers from there would repeat itself without end.
    package static func checkMayStartWorkers() throws {
        do {
            try EventLoop.checkAvailable()
        } catch {
            throw ParallelError(.workerCrashed, "worker processes cannot be managed: \(error)")
        }
        if ParallelWorker.isUnclaimedWorker {
            throw ParallelError(
                .invalidArgument,
                "this process was started as a ParallelKit worker but its main did not call "
                    + "ParallelWorker.enterIfNeeded(); it must not start workers of its own. Call "
                    + "ParallelWorker.enterIfNeeded() as the first statement of main (needed with --static-swift-stdlib).")
        }
    }

    /// The configuration of a pool for `executable` with extra environment `overrides`.
    package static func configuration(
        executable: String?, overrides: [String: String], idleTimeout: Duration?
    ) -> WorkerPool.Configuration {
        WorkerPool.Configuration(
            executable: executable ?? Platform.currentExecutablePath,
            argument0: CommandLine.arguments.first ?? "parallelkit-worker",
            environment: WorkerEnvironment.entries(parent: ProcessInfo.processInfo.environment, overrides: overrides),
            idleTimeout: idleTimeout)
    }

    /// Registers a call with `pool` and waits until a worker can take its batches.
    package static func open(_ pool: WorkerPool, callID: Int, nJobs: Int) async throws {
        try await withCheckedThrowingContinuation { (ready: CheckedContinuation<Void, any Error>) in
            EventLoop.shared.execute { pool.open(callID: callID, nJobs: nJobs, ready: ready) }
        }
    }
}
