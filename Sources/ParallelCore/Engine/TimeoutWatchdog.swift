/// Watches the running tasks of one call and posts `.timedOut` for each task that runs longer
/// than the timeout.
///
/// It sleeps until the earliest moment a running task could time out (or one timeout from now when
/// none runs, since a task that starts later cannot expire sooner), then re-reads the live stamps;
/// a task that finished meanwhile simply moves that moment later. So it wakes about once per
/// timeout period, not per task, and fires within a scheduler tick of the deadline. A batch whose
/// task expired is no longer watched (the engine abandons it or ends the call); the others are.
///
/// Deadlines saturate: a timeout of years never wraps around into the past.
package final class TimeoutWatchdog: Sendable {
    private struct Watched {
        var firstIndex: Int
        var progress: BatchProgress
    }

    private let timeout: Duration
    private let watched = LockedValue<[Int: Watched]>([:])
    private let task = LockedValue<Task<Void, Never>?>(nil)

    package init(timeout: Duration) {
        self.timeout = timeout
    }

    /// Starts watching; events go to `inbox`.
    package func start(posting inbox: CompletionInbox) {
        let limit = timeout.nanoseconds
        let watcher = Task.detached { [weak self] in
            while !Task.isCancelled {
                // The strong reference lives only for this scan, never across the sleep, so a call
                // that is dropped frees its watchdog at once.
                guard let pause = self?.scan(limit: limit, posting: inbox) else { return }
                try? await Task.sleep(nanoseconds: pause)
            }
        }
        task.withLock { $0 = watcher }
    }

    /// Posts every expired task and returns how long to sleep before the next scan.
    private func scan(limit: UInt64, posting inbox: CompletionInbox) -> UInt64 {
        let now = MonotonicClock.now()
        var wake = Self.add(now, limit)
        var expired: [Int] = []
        watched.withLock { batches in
            for (batchID, batch) in batches {
                guard let running = batch.progress.runningTask else { continue }
                let deadline = Self.add(running.startedAt, limit)
                if deadline <= now {
                    expired.append(batch.firstIndex + running.offset)
                    batches.removeValue(forKey: batchID)
                } else {
                    wake = min(wake, deadline)
                }
            }
        }
        for index in expired.sorted() { inbox.post(.timedOut(taskIndex: index, at: now)) }
        return max(wake - now, 1_000_000)
    }

    private static func add(_ time: UInt64, _ duration: UInt64) -> UInt64 {
        let sum = time.addingReportingOverflow(duration)
        return sum.overflow ? .max : sum.partialValue
    }

    /// Watches a submitted batch.
    package func watch(batchID: Int, firstIndex: Int, progress: BatchProgress) {
        watched.withLock { $0[batchID] = Watched(firstIndex: firstIndex, progress: progress) }
    }

    /// Stops watching a batch that ended.
    package func forget(batchID: Int) {
        _ = watched.withLock { $0.removeValue(forKey: batchID) }
    }

    /// Stops the watchdog.
    package func stop() {
        task.withLock { $0 }?.cancel()
    }
}
