import Foundation
import ParallelCore
import Synchronization

// What the two process backends share: `ProcessBackend` keeps pools between calls and
// `MultiprocessingBackend` makes one per call, and everything else — the capabilities, the batching
// policy, refusing job types a worker cannot find, the checks before starting workers, the pool
// configuration, waiting for the first ready worker and the call handle — is here, once.

package enum WorkerLaunch {
    private static let nextCallID = Atomic<Int>(1)

    /// Out of process, no shared memory; `threadLimits`: whether the backend sets the native
    /// thread limits (`innerMaxNumThreads`) in its workers.
    static func capabilities(threadLimits: Bool) -> BackendCapabilities {
        BackendCapabilities(
            usesThreads: false, supportsSharedMemory: false, runsOutOfProcess: true,
            supportsInnerMaxNumThreads: threadLimits)
    }

    /// Refuses job types a worker cannot find by name (private, fileprivate or local types).
    static func validate(jobType: any ParallelJob.Type) throws {
        if let error = JobTypeResolver.checkJobType(jobType) { throw error }
    }

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
                    + "ParallelWorker.enterIfNeeded() as the first statement of main (needed with --static-swift-stdlib)."
            )
        }
    }

    /// Checks the call's temp folder (`tempFolder`, else JOBLIB_TEMP_FOLDER) before anything runs:
    /// a missing one is created, as joblib does; a file, an unwritable folder or one others may
    /// write without the sticky bit is a `ParallelError(.invalidArgument)` naming it,
    /// never silently replaced by the pipe.
    static func checkTempFolder(_ context: BackendCallContext) throws {
        guard let folder = TempFolder.resolve(context.tempFolder) else { return }
        try TempFolder.shared.validate(folder)
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

    /// Registers a new call with `pool`, waits until a worker can take its batches, and returns
    /// the call's handle. A pool made for this call alone (`ownsPool`) is shut down, its workers
    /// reaped, when no worker can start; a shared pool stays for the next call.
    static func startCall(on pool: WorkerPool, context: BackendCallContext, ownsPool: Bool) async throws -> ProcessCall
    {
        let callID = makeCallID()
        do {
            try await open(pool, callID: callID, nJobs: context.nJobs)
        } catch {
            if ownsPool {
                await withCheckedContinuation { done in EventLoop.shared.execute { pool.shutdown(done: done) } }
            }
            throw error
        }
        return ProcessCall(pool: pool, callID: callID, context: context, ownsPool: ownsPool)
    }
}
