import Synchronization

/// Watches the running tasks of one call and posts `.timedOut` for the first that runs longer
/// than the timeout.
///
/// It sleeps until the earliest moment a running task could time out (or one timeout from now when
/// none runs, since a task that starts later cannot expire sooner), then re-reads the live stamps;
/// a task that finished meanwhile simply moves that moment later. So it wakes about once per
/// timeout period, not per task, and fires within a scheduler tick of the deadline.
package final class TimeoutWatchdog: Sendable {
    private struct Watched {
        var firstIndex: Int
        var progress: BatchProgress
    }

    private let timeout: Duration
    private let watched = Mutex<[Int: Watched]>([:])
    private let task = Mutex<Task<Void, Never>?>(nil)

    package init(timeout: Duration) {
        self.timeout = timeout
    }

    /// Starts watching; events go to `inbox`.
    package func start(posting inbox: CompletionInbox) {
        let timeout = self.timeout
        let watcher = Task.detached { [weak self] in
            let limit = timeout.nanoseconds
            while !Task.isCancelled {
                guard let self else { return }
                let now = MonotonicClock.now()
                var wake = now &+ limit
                var expired: Int?
                self.watched.withLock { batches in
                    for batch in batches.values {
                        guard let running = batch.progress.runningTask else { continue }
                        let deadline = running.startedAt &+ limit
                        if deadline <= now {
                            let index = batch.firstIndex + running.offset
                            expired = min(expired ?? index, index)
                        } else {
                            wake = min(wake, deadline)
                        }
                    }
                }
                if let expired {
                    inbox.post(.timedOut(taskIndex: expired, after: timeout))
                    return
                }
                try? await Task.sleep(nanoseconds: max(wake &- now, 1_000_000))
            }
        }
        task.withLock { $0 = watcher }
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
