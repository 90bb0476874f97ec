import Dispatch
import Foundation
@_spi(Locking) import ParallelCore
import Synchronization

// Resuming a Swift continuation enqueues its task on the cooperative pool, and when that pool has
// no idle thread, libdispatch creates one on the resuming thread: if the system refuses the
// thread (a pids cgroup or RLIMIT_NPROC full of workers), libdispatch sleeps a second and tries
// again, for ever. On the event loop thread that froze every pool: no worker was reaped, so no pid
// was ever freed (400 concurrent calls under a pids limit). So the event loop never
// resumes a continuation itself: it hands those hand-backs (batch completions, a pool that became
// ready or drained) to this thread, and keeps reaping and retiring workers, which is what frees
// the pids the stuck hand-back waits for (`EventLoop` watches how long one takes).

/// Runs the event loop's hand-backs to Swift tasks, first in first out, on a thread of its own.
///
/// - Concurrency: `post` may be called from any thread; the queue is behind a `LockedValue` and the
///   thread sleeps on a semaphore counting the queued items. `busySince` is atomic.
final class CompletionRelay: Sendable {
    private let queue = LockedValue<[@Sendable () -> Void]>([])
    private let available = DispatchSemaphore(value: 0)
    /// Monotonic time the running item started, 0 while idle.
    private let startedAt = Atomic<UInt64>(0)
    /// Items posted and not yet finished.
    private let unfinished = Atomic<Int>(0)

    /// Starts the relay's thread; nil when the system refuses it (the caller then runs hand-backs
    /// itself, as before).
    static func start() -> CompletionRelay? {
        let relay = CompletionRelay()
        guard CheckedThread.start(name: "pk-process-out", stackSize: 1 << 20, { relay.run() }) == 0 else { return nil }
        return relay
    }

    private init() {}

    /// Queues `work` to run after everything posted before it.
    /// - Complexity: O(1) amortised; one semaphore signal (no thread is created).
    func post(_ work: @escaping @Sendable () -> Void) {
        unfinished.add(1, ordering: .relaxed)
        queue.withLock { $0.append(work) }
        available.signal()
    }

    /// Whether items are queued or running.
    var hasWork: Bool { unfinished.load(ordering: .relaxed) > 0 }

    /// How long the item running now has been running, in nanoseconds (0 when idle).
    func busyTime(now: UInt64) -> UInt64 {
        let since = startedAt.load(ordering: .acquiring)
        return since == 0 || now < since ? 0 : now - since
    }

    private func run() -> Never {
        while true {
            available.wait()
            // Everything queued so far, in order; the semaphore's extra counts then find the
            // queue empty and cost one wake-up each.
            let work = queue.withLock { queue in
                defer { queue.removeAll(keepingCapacity: true) }
                return queue
            }
            for item in work {
                startedAt.store(max(MonotonicClock.now(), 1), ordering: .releasing)
                item()
                startedAt.store(0, ordering: .releasing)
                unfinished.subtract(1, ordering: .relaxed)
            }
        }
    }
}
