import ParallelCore
import Synchronization

// One `Parallel` call on a worker pool: what the engine submits batches to.

/// A call of the `"process"` or `"multiprocessing"` backend.
///
/// - Concurrency: `submit` encodes on the caller's thread and hands the batch to the event loop;
///   `abort` and `finish` post to the loop as well. All stored properties are immutable or
///   thread-safe.
package final class ProcessCall: BackendCall {
    private static let nextBatchID = Atomic<UInt64>(1)

    let pool: WorkerPool
    let callID: Int
    let context: BackendCallContext
    /// Large arrays of this call in shared memory (nil when sharing is off).
    let largeArrays: LargeArrayStore?
    /// A pool made for this call alone (multiprocessing), ended with it.
    let ownsPool: Bool

    /// This call's batches that run on workers with a status board (local workers).
    let runningBoards = RunningBoards()

    /// Set by `abort` and `finish`: a call dropped without either still releases its workers.
    private let ended = Atomic<Bool>(false)

    package init(pool: WorkerPool, callID: Int, context: BackendCallContext, ownsPool: Bool) {
        self.pool = pool
        self.callID = callID
        self.context = context
        self.ownsPool = ownsPool
        if let threshold = context.maxNbytes, context.mmapMode != .disabled {
            largeArrays = LargeArrayStore(threshold: threshold, folder: TempFolder.resolve(context.tempFolder))
        } else {
            largeArrays = nil
        }
    }

    package func submit(_ batch: TaskBatch, completion: @escaping @Sendable (BatchOutcome) -> Void) {
        guard let portable = batch.portable else {
            completion(
                BatchOutcome(
                    failure: ParallelError(
                        .notSerializable, taskIndex: batch.firstIndex,
                        "process backends run ParallelJob values only; describe the work as a ParallelJob")))
            return
        }
        if let error = JobTypeResolver.checkJobType(portable.jobType) {
            completion(BatchOutcome(failure: error))
            return
        }
        let batchID = Self.nextBatchID.wrappingAdd(1, ordering: .relaxed).oldValue
        let frame: [UInt8]
        do {
            frame = try BatchCodec.encodeRequest(
                batch, portable: portable, batchID: batchID, mmapMode: context.mmapMode, largeArrays: largeArrays,
                // A remote worker has no status board the parent can read after a crash: its
                // task-start notices name the task instead.
                reportTaskStarts: batch.tracksEachTask || pool.configuration.launcher != nil)
        } catch {
            completion(
                BatchOutcome(
                    failure: ParallelError(
                        .notSerializable, taskIndex: batch.firstIndex,
                        "tasks \(batch.firstIndex)..<\(batch.firstIndex + batch.count) could not be encoded for a worker "
                            + "process: \(error)")))
            return
        }
        let queued = QueuedBatch(
            batchID: batchID, callID: callID, firstIndex: batch.firstIndex, count: batch.count, frame: frame,
            progress: batch.progress, tracksEachTask: batch.tracksEachTask, verbose: context.verbose,
            runningBoards: runningBoards,
            complete: BatchCodec.completion(
                for: portable, firstIndex: batch.firstIndex, count: batch.count, reportTo: completion))
        let pool = self.pool
        EventLoop.shared.execute { pool.enqueue(queued) }
    }

    /// A call the engine dropped without `finish()` or `abort()` (an error between starting the
    /// call and running it, say) must not leave its workers, or its slot in a shared pool, behind.
    deinit {
        guard !ended.load(ordering: .relaxed) else { return }
        let pool = self.pool
        let callID = self.callID
        if ownsPool {
            EventLoop.shared.execute { pool.shutdown(done: nil) }
        } else {
            EventLoop.shared.execute { pool.close(callID: callID) }
        }
    }

    /// Reads how many tasks of each running batch are completed and tells the engine.
    ///
    /// A local worker stores its count on its status board after each task (shared memory, no
    /// message), so this reads the boards directly, without waiting for the event loop. A remote
    /// worker (ParallelCluster) has no board the parent can map: it sends a notice as each task
    /// starts, and the event loop marks the tasks before it completed as the notice arrives.
    /// - Complexity: O(running batches) atomic loads under one lock; no system call.
    package func refreshProgress() {
        runningBoards.publish()
    }

    /// Kills the worker running the stuck batch; the pool starts a fresh one for the call's other
    /// batches.
    package func abandon(_ batch: TaskBatch) {
        batch.progress.requestAbort()
        let pool = self.pool
        let progress = batch.progress
        EventLoop.shared.execute { pool.abandon(progress: progress) }
    }

    package func abort() {
        ended.store(true, ordering: .relaxed)
        let pool = self.pool
        let callID = self.callID
        if ownsPool {
            EventLoop.shared.execute { pool.killAll() }
        } else {
            EventLoop.shared.execute { pool.abort(callID: callID) }
        }
        largeArrays?.releaseAll()
    }

    package func finish() async {
        ended.store(true, ordering: .relaxed)
        largeArrays?.releaseAll()
        let pool = self.pool
        let callID = self.callID
        if ownsPool {
            await withCheckedContinuation { (done: CheckedContinuation<Void, Never>) in
                EventLoop.shared.execute {
                    pool.close(callID: callID)
                    pool.shutdown(done: done)
                }
            }
        } else {
            EventLoop.shared.execute { pool.close(callID: callID) }
        }
    }
}
