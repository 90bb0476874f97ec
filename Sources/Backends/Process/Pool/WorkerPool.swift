import Foundation
import ParallelCore

// A set of identical workers (same executable, same environment) and the queue of batches they
// share. Calls register with their nJobs (how many of their batches may run at once); batches are
// dispatched first in, first out to idle workers, skipping those of calls already running nJobs.
// Workers are spawned only for batches waiting to run and while fewer than the target size: never
// nJobs processes for three tasks. Dead ones are replaced the same way, lazily. When
// the system refuses a process (a pids, process or descriptor limit), spawning stops at the first
// refusal; the workers that run keep serving, and with none the call fails with an error naming
// the limit.
//
// Everything here runs on the event loop thread.

/// Workers and their queue.
///
/// - Concurrency: `@unchecked Sendable` so that other threads can hold a reference and hand it
///   work with `EventLoop.execute`; every method must run on the loop thread.
package final class WorkerPool: WorkerConnectionDelegate, ThreadStarvationWatcher, @unchecked Sendable {
    /// What workers of this pool are started with.
    package struct Configuration: Sendable {
        var executable: String
        var argument0: String
        /// `KEY=value` entries, thread limits included.
        var environment: [String]
        /// Idle workers end after this long (nil: never, for per-call pools).
        var idleTimeout: Duration?
        /// Starts workers on other machines instead of spawning them here (ParallelCluster).
        package var launcher: (any RemoteWorkerLauncher)? = nil
    }

    /// A registered call: how many of its batches may run at once, and how many do.
    private struct CallQuota {
        var nJobs: Int
        var running = 0
    }

    package let configuration: Configuration
    private let loop: EventLoop
    private var workers: [WorkerConnection] = []
    private var queue: [QueuedBatch] = []
    private var calls: [Int: CallQuota] = [:]
    private var targetSize = 0
    private var consecutiveStartFailures = 0
    private var lastStartFailure: String?
    private var spawningBlocked = false
    private var gaveUp: ParallelError?
    private var readyWaiters: [CheckedContinuation<Void, any Error>] = []
    private var drainWaiters: [CheckedContinuation<Void, Never>] = []
    private var shuttingDown = false
    /// Set when no new call will open this pool: it shuts down when its last call ends.
    private var retiresWhenUnused = false
    private var idleTimer: Int?
    private var nextLaunchToken: UInt64 = 1

    /// Start failures in a row after which queued batches fail instead of waiting.
    static let maxConsecutiveStartFailures = 3
    /// How long after a passing start failure (a limit) the pool tries again.
    static let startRetryDelay: UInt64 = 200_000_000
    private var retryTimer: Int?

    package init(configuration: Configuration, loop: EventLoop = .shared) {
        self.configuration = configuration
        self.loop = loop
    }

    // MARK: Calls

    /// Registers a call that runs at most `nJobs` batches at once and lets the pool grow to
    /// `nJobs` workers.
    ///
    /// Workers start as the call's batches arrive, never more than batches wait.
    /// Local ones: `ready` resumes at once, and a worker that cannot be started fails the call's
    /// batches with the reason (see `failIfStarved`). Remote ones (a `launcher`: SSH, SLURM) take
    /// seconds to start and their start-up errors belong to the call, so when the pool has none,
    /// one starts now and `ready` waits for it; the others start as batches wait.
    func open(callID: Int, nJobs: Int, ready: CheckedContinuation<Void, any Error>) {
        calls[callID] = CallQuota(nJobs: nJobs)
        shuttingDown = false
        gaveUp = nil
        spawningBlocked = false
        consecutiveStartFailures = 0
        resize(to: calls.values.map(\.nJobs).max() ?? nJobs)
        loop.watchThreadStarvation(self)
        guard configuration.launcher != nil else {
            loop.deliver { ready.resume() }
            return
        }
        spawnIfNeeded(minimum: 1)
        if workers.contains(where: { $0.phase == .ready || $0.phase == .busy }) {
            loop.deliver { ready.resume() }
        } else if let gaveUp {
            loop.deliver { ready.resume(throwing: gaveUp) }
        } else {
            readyWaiters.append(ready)
        }
    }

    /// Queues a batch of a registered call.
    func enqueue(_ batch: QueuedBatch) {
        guard calls[batch.callID] != nil else { return }
        if let gaveUp {
            complete(batch, .couldNotStart(gaveUp))
            return
        }
        queue.append(batch)
        pump()
    }

    /// Stops a call's work now: its queued batches are dropped and the workers running its
    /// batches are killed (and replaced when there is work). No completion is reported for them.
    func abort(callID: Int) {
        queue.removeAll { $0.callID == callID }
        for worker in workers where worker.current?.callID == callID {
            worker.abandonCurrentBatch()
        }
        calls.removeValue(forKey: callID)
        pump()
        shutdownIfRetiredAndUnused()
    }

    /// Gives up on one batch whose task is stuck while its call goes on: the worker running it is
    /// killed (and replaced as the pool refills), a queued copy is dropped.
    func abandon(progress: BatchProgress) {
        queue.removeAll { $0.progress === progress }
        for worker in workers where worker.current?.progress === progress {
            if let batch = worker.current { calls[batch.callID]?.running -= 1 }
            worker.abandonCurrentBatch()
        }
        pump()
    }

    /// Forgets a call whose batches have all completed.
    func close(callID: Int) {
        queue.removeAll { $0.callID == callID }
        calls.removeValue(forKey: callID)
        if let largest = calls.values.map(\.nJobs).max() { resize(to: largest) }
        shutdownIfRetiredAndUnused()
    }

    /// Ends every worker (gracefully, then by SIGKILL after a grace period) and resumes `done`
    /// when all are reaped.
    package func shutdown(done: CheckedContinuation<Void, Never>?) {
        shuttingDown = true
        targetSize = 0
        queue.removeAll()
        releaseReadyWaiters()
        for worker in workers { worker.retire() }
        if let done {
            if workers.isEmpty { loop.deliver { done.resume() } } else { drainWaiters.append(done) }
        }
    }

    /// Ends the workers once no call uses the pool: now if none does, else when the last one
    /// closes or aborts. For a pool no new call will open (its environment went out of use and
    /// its owner forgot it).
    func retireWhenUnused() {
        retiresWhenUnused = true
        shutdownIfRetiredAndUnused()
    }

    private func shutdownIfRetiredAndUnused() {
        guard retiresWhenUnused, calls.isEmpty, !shuttingDown else { return }
        shutdown(done: nil)
    }

    /// Kills every worker now (the per-call pool of an aborted call).
    func killAll() {
        shuttingDown = true
        targetSize = 0
        queue.removeAll()
        releaseReadyWaiters()
        for worker in workers { worker.abandonCurrentBatch() }
    }

    /// A call still waiting in `open` must not wait for a pool that is ending.
    private func releaseReadyWaiters() {
        let error = ParallelError(.workerCrashed, "the worker pool was shut down before a worker was ready")
        for waiter in readyWaiters { loop.deliver { waiter.resume(throwing: error) } }
        readyWaiters.removeAll()
    }

    /// Hands a remote worker's authenticated connection to the launch it belongs to. False (the
    /// caller closes `socket`) when that launch is gone or already connected.
    package func attach(token: UInt64, socket: Int32, peer: String) -> Bool {
        guard let worker = workers.first(where: { $0.remoteToken == token }) else { return false }
        return worker.attach(socket: socket, peer: peer)
    }

    /// Tests: starts one worker as a waiting batch would.
    func spawnForTesting() { _ = spawnOne() }

    /// Live workers (for tests).
    package var liveWorkerPIDs: [pid_t] { workers.filter(\.isAlive).map(\.pid) }

    // MARK: Dispatch

    private func pump() {
        guard !shuttingDown else { return }
        var index = 0
        while index < queue.count {
            let batch = queue[index]
            guard let quota = calls[batch.callID] else {
                queue.remove(at: index)
                continue
            }
            guard quota.running < quota.nJobs else {
                index += 1
                continue
            }
            guard let worker = workers.first(where: { $0.phase == .ready }) else { break }
            queue.remove(at: index)
            calls[batch.callID]?.running += 1
            worker.assign(batch)
        }
        spawnIfNeeded(minimum: 0)
    }

    /// Spawns workers while there is unserved work (or fewer than `minimum`) below the target.
    private func spawnIfNeeded(minimum: Int) {
        // While the program itself is refused threads, a new worker would take the pid it needs.
        guard !shuttingDown, !spawningBlocked, !loop.spawningPaused else { return }
        let active = workers.filter(\.isActive)
        let idleOrStarting = active.filter { $0.phase != .busy }.count
        let waiting = queue.filter { batch in calls[batch.callID].map { $0.running < $0.nJobs } ?? false }.count
        // A call waiting in `open` for its first ready worker counts as work: without this, a
        // worker that failed to start before any batch was queued would never be replaced.
        let floor = max(minimum, readyWaiters.isEmpty ? 0 : 1)
        let wanted = min(targetSize, max(floor, active.count + max(0, waiting - idleOrStarting)))
        guard active.count < wanted else { return }
        // After a refusal the next one is likely: stop, rather than try thousands of spawns.
        for _ in active.count..<wanted {
            guard spawnOne() else { break }
        }
    }

    /// Starts one worker; false when the system refused it.
    private func spawnOne() -> Bool {
        guard !spawningBlocked else { return false }
        do {
            let process: SpawnedProcess
            if let launcher = configuration.launcher {
                process = try launcher.launch(token: nextLaunchToken)
                nextLaunchToken += 1
            } else {
                process = try SpawnedProcess.spawn(
                    executable: configuration.executable, argument0: configuration.argument0,
                    environment: configuration.environment)
            }
            ProcessRegistry.shared.insert(process.pid)
            workers.append(WorkerConnection(process: process, delegate: self, loop: loop))
            return true
        } catch let error as SystemError where Self.isLimit(error.code) {
            // A limit (pids, processes, descriptors, memory): it may pass as other work ends,
            // so it counts towards the consecutive failures rather than blocking at once.
            loop.noteLimitRefusal()
            let refusal = SystemLimits.refused(.process, for: "this call", code: error.code)
            startFailed(StartFailure(message: "\(error.operation): \(refusal.description)", isPermanent: false))
            return false
        } catch {
            startFailed(StartFailure(message: "cannot start a worker process: \(error)", isPermanent: true))
            return false
        }
    }

    /// Error codes of a limit on processes, descriptors or memory.
    static func isLimit(_ code: Int32) -> Bool {
        code == EAGAIN || code == EMFILE || code == ENFILE || code == ENOMEM
    }

    /// Grows or shrinks the target; idle workers beyond it retire now.
    private func resize(to size: Int) {
        targetSize = size
        var excess = workers.filter(\.isActive).count - size
        guard excess > 0 else { return }
        for worker in workers where excess > 0 && worker.phase == .ready {
            worker.retire()
            excess -= 1
        }
    }

    private func startFailed(_ failure: StartFailure) {
        consecutiveStartFailures += 1
        lastStartFailure = failure.message
        // A passing failure is retried by the next pump; a permanent one, or too many in a row,
        // stops spawning. Workers that do run keep serving.
        guard failure.isPermanent || consecutiveStartFailures >= Self.maxConsecutiveStartFailures else {
            // Retried soon: with no worker alive, nothing else would call `pump` again.
            if retryTimer == nil {
                retryTimer = loop.schedule(at: MonotonicClock.now() &+ Self.startRetryDelay) { [weak self] in
                    self?.retryTimer = nil
                    self?.pump()
                }
            }
            return
        }
        spawningBlocked = true
        failIfStarved()
    }

    /// With spawning blocked and no worker left that could serve, waiting would never end: fail
    /// the waiters and the queued batches instead.
    private func failIfStarved() {
        guard spawningBlocked, !workers.contains(where: \.isActive) else { return }
        let error = ParallelError(
            .workerCrashed,
            "worker processes could not be started (no task was run): \(lastStartFailure ?? "unknown reason")")
        gaveUp = error
        for waiter in readyWaiters { loop.deliver { waiter.resume(throwing: error) } }
        readyWaiters.removeAll()
        let failed = queue
        queue.removeAll()
        for batch in failed { complete(batch, .couldNotStart(error)) }
    }

    /// Reports a batch's end to its call, off the loop thread (`EventLoop.deliver`).
    private func complete(_ batch: QueuedBatch, _ reply: BatchReply) {
        loop.deliver { batch.complete(reply) }
    }

    // MARK: ThreadStarvationWatcher

    func threadsStarved() {
        // Idle workers hold pids (three threads each) that the program needs to take in the
        // results which would end calls; they are started again when work waits.
        for worker in workers where worker.phase == .ready { worker.retire() }
    }

    func threadsAvailable() { pump() }

    // MARK: Idle timeout

    private func scheduleIdleCheck() {
        guard idleTimer == nil, let timeout = configuration.idleTimeout else { return }
        let limit = timeout.nanoseconds
        guard let oldest = workers.filter({ $0.phase == .ready }).map(\.idleSince).min() else { return }
        idleTimer = loop.schedule(at: oldest &+ limit) { [weak self] in
            guard let self else { return }
            self.idleTimer = nil
            let now = MonotonicClock.now()
            for worker in self.workers where worker.phase == .ready && now &- worker.idleSince >= limit {
                worker.retire()
            }
            self.scheduleIdleCheck()
        }
    }

    // MARK: WorkerConnectionDelegate

    func workerReady(_ worker: WorkerConnection) {
        consecutiveStartFailures = 0
        for waiter in readyWaiters { loop.deliver { waiter.resume() } }
        readyWaiters.removeAll()
        if shuttingDown || workers.filter(\.isActive).count > targetSize {
            worker.retire()
            return
        }
        pump()
        scheduleIdleCheck()
    }

    func worker(_ worker: WorkerConnection, finished batch: QueuedBatch, with reply: BatchReply) {
        calls[batch.callID]?.running -= 1
        complete(batch, reply)
        if worker.phase == .ready && (shuttingDown || workers.filter(\.isActive).count > targetSize) {
            worker.retire()
        }
        pump()
        scheduleIdleCheck()
    }

    func workerDied(
        _ worker: WorkerConnection, crashed: (batch: QueuedBatch, error: ParallelError, neverStarted: Bool)?,
        startFailure: StartFailure?
    ) {
        workers.removeAll { $0 === worker }
        if let (batch, error, neverStarted) = crashed {
            calls[batch.callID]?.running -= 1
            if neverStarted && !batch.requeued && calls[batch.callID] != nil {
                // Lost before any of its tasks ran (the worker's request stream broke): the batch
                // is innocent and runs on another worker, once.
                var again = batch
                again.requeued = true
                queue.insert(again, at: 0)
            } else {
                let completed = max(0, (error.taskIndex ?? batch.firstIndex) - batch.firstIndex)
                complete(batch, .crashed(error, completedCount: completed))
            }
        }
        if let startFailure {
            // A worker that exits before it is ready was often refused a thread of its own.
            if !startFailure.isPermanent { loop.noteLimitRefusal() }
            startFailed(startFailure)
        }
        failIfStarved()
        if workers.isEmpty {
            for waiter in drainWaiters { loop.deliver { waiter.resume() } }
            drainWaiters.removeAll()
        }
        pump()
    }
}
