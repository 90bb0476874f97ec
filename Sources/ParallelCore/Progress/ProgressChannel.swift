import Dispatch
import Synchronization

/// The engine's side of progress reporting: it is told counts and times, and turns them into
/// ``ProgressEvent``s for a handler or a bar.
///
/// Driven by the engine on the caller's isolation (one call at a time, any thread); every method
/// is O(1) and takes one short lock, and none waits for the handler. Guarantees:
/// - ``ProgressEvent/started(_:)`` comes first and ``ProgressEvent/finished(_:)`` last, once each:
///   a method called before ``start(total:backend:nJobs:now:)`` starts the channel implicitly, and
///   nothing is reported after ``finish(now:)``.
/// - ``ProgressEvent/progressed(_:)`` at most once per `minimumInterval` (50 ms: about 20 a second).
///   Completions in between are reported by a trailing event at the end of the interval, so the
///   last counts never wait for the next completion.
/// - Delivery: events go through a FIFO to a serial dispatch queue of this channel's own; the
///   handler is called there, one event at a time, in order. While it is busy, pending
///   `progressed` events are merged into the newest (failures, `started` and `finished` are kept).
///
/// `Sendable`: all mutable state is in one `Mutex`; the handler runs outside the lock.
package final class ProgressChannel: Sendable {
    private struct State {
        enum Phase { case idle, running, finished }
        var phase = Phase.idle
        var backend = ""
        var nJobs = 0
        var total: Int?
        var completed = 0
        var failed = 0
        var retried = 0
        var startTime: UInt64 = 0
        var rate = SmoothedRate(start: 0)
        var lastProgressedAt: UInt64?
        /// Counts changed since the last `progressed` event.
        var dirty = false
        var trailingScheduled = false
        var pending: [ProgressEvent] = []
        var pendingHead = 0
        var draining = false
        var finishedDelivered = false
        var waiters: [CheckedContinuation<Void, Never>] = []
        var progressedEmitted = 0
    }

    private let state = Mutex(State())
    private let deliver: (@Sendable (ProgressEvent) -> Void)?
    private let terminal: ProgressTerminal?
    private let clock: @Sendable () -> UInt64
    private let minimumInterval: UInt64
    private let queue = DispatchQueue(label: "ParallelKit.progress")

    /// A channel for `progress`.
    ///
    /// - Parameters:
    ///   - terminal: where a ``ParallelProgress/bar`` draws (tests pass one on a pty or a pipe).
    ///   - nestingLevel: the calling task's nesting level; above 0 a bar draws nothing.
    ///   - clock: monotonic nanoseconds, for trailing events.
    ///   - minimumInterval: the least time between two `progressed` events.
    package init(
        _ progress: ParallelProgress,
        terminal: ProgressTerminal = .standardError,
        nestingLevel: Int = ScopeStorage.current.nestingLevel,
        clock: @escaping @Sendable () -> UInt64 = { MonotonicClock.now() },
        minimumInterval: Duration = .milliseconds(50)
    ) {
        self.clock = clock
        self.minimumInterval = minimumInterval.nanoseconds
        switch progress.mode {
        case .none:
            deliver = nil
            self.terminal = nil
        case .handler(let handler):
            deliver = handler
            self.terminal = nil
        case .bar where nestingLevel > 0:
            deliver = nil
            self.terminal = nil
        case .bar:
            let bar = ProgressBar(terminal: terminal)
            deliver = { bar.show($0) }
            self.terminal = terminal
        }
    }

    /// Whether events go anywhere: false for ``ParallelProgress/none`` and for a bar in a nested
    /// call, so the engine may skip counting.
    package var isActive: Bool { deliver != nil }

    /// The call is about to run its first task.
    package func start(total: Int?, backend: String, nJobs: Int, now: UInt64) {
        guard isActive else { return }
        state.withLock { s in
            guard s.phase == .idle else { return }
            s.backend = backend
            s.nJobs = nJobs
            s.total = total
            beginLocked(&s, now: now)
        }
    }

    /// The input ended: from now on snapshots carry `total`.
    package func totalBecameKnown(_ total: Int) {
        guard isActive else { return }
        state.withLock { s in
            guard s.phase != .finished else { return }
            s.total = total
            s.dirty = true
        }
    }

    /// `count` more tasks completed successfully at `now`.
    package func tasksCompleted(count: Int, now: UInt64) {
        guard isActive, count > 0 else { return }
        state.withLock { s in
            if s.phase == .idle { beginLocked(&s, now: now) }
            guard s.phase == .running else { return }
            s.completed += count
            s.rate.record(count: count, at: now)
            progressedLocked(&s, now: now)
        }
    }

    /// A task's attempt failed: with `willRetry` it counts as retried, else as failed for good
    /// (and in the rate, as it will not run again). Reported as one
    /// ``ProgressEvent/taskFailed(_:willRetry:)``, then in the counts of the next `progressed`.
    package func taskFailed(_ failure: TaskFailure, willRetry: Bool, now: UInt64) {
        guard isActive else { return }
        state.withLock { s in
            if s.phase == .idle { beginLocked(&s, now: now) }
            guard s.phase == .running else { return }
            if willRetry {
                s.retried += 1
            } else {
                s.failed += 1
                s.rate.record(count: 1, at: now)
            }
            enqueueLocked(&s, .taskFailed(failure, willRetry: willRetry))
            progressedLocked(&s, now: now)
        }
    }

    /// The call is over, however it ended: reports `finished` (and `started` first if it was
    /// never started). Later calls do nothing. Call ``waitUntilDelivered()`` next so the handler
    /// has seen everything when the call returns.
    package func finish(now: UInt64) {
        guard isActive else { return }
        state.withLock { s in
            if s.phase == .idle { beginLocked(&s, now: now) }
            guard s.phase == .running else { return }
            s.phase = .finished
            s.dirty = false
            s.rate.record(count: 0, at: now, force: true)
            enqueueLocked(&s, .finished(snapshotLocked(s, now: now)))
        }
    }

    /// Returns once the handler has returned from `finished` (at once when the channel is
    /// inactive). Only meaningful after ``finish(now:)``.
    package func waitUntilDelivered() async {
        guard isActive else { return }
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let done = state.withLock { s -> Bool in
                if s.finishedDelivered { return true }
                s.waiters.append(continuation)
                return false
            }
            if done { continuation.resume() }
        }
    }

    /// Writes `text` as whole lines (a line of verbose output, say; a newline is added if it
    /// lacks one) so that a live bar is not corrupted: the bar's block is cleared, the text
    /// written, and the block drawn again below it. Without a bar it goes to standard error.
    package func printAbove(_ text: String) {
        if let terminal {
            terminal.printAbove(text)
        } else {
            StandardError.write(text.hasSuffix("\n") ? text : text + "\n")
        }
    }

    /// How many `progressed` events the rate limit let through (before merging for a busy
    /// handler): for tests and benchmarks.
    package var progressedEmitted: Int { state.withLock { $0.progressedEmitted } }

    // MARK: - Under the lock

    private func beginLocked(_ s: inout State, now: UInt64) {
        s.phase = .running
        s.startTime = now
        s.rate = SmoothedRate(start: now)
        s.lastProgressedAt = nil
        enqueueLocked(&s, .started(snapshotLocked(s, now: now)))
    }

    /// Reports `progressed` now if the interval allows, else once at its end.
    private func progressedLocked(_ s: inout State, now: UInt64) {
        if let last = s.lastProgressedAt, now &- last < minimumInterval {
            s.dirty = true
            scheduleTrailingLocked(&s, after: minimumInterval - (now &- last))
            return
        }
        s.dirty = false
        s.lastProgressedAt = now
        s.progressedEmitted += 1
        enqueueLocked(&s, .progressed(snapshotLocked(s, now: now)))
    }

    private func scheduleTrailingLocked(_ s: inout State, after nanoseconds: UInt64) {
        guard !s.trailingScheduled else { return }
        s.trailingScheduled = true
        queue.asyncAfter(deadline: .now() + .nanoseconds(Int(clamping: nanoseconds))) { [self] in
            state.withLock { s in
                s.trailingScheduled = false
                guard s.dirty, s.phase == .running else { return }
                progressedLocked(&s, now: max(clock(), s.startTime))
            }
        }
    }

    private func snapshotLocked(_ s: State, now: UInt64) -> ProgressSnapshot {
        let rate = s.rate.tasksPerSecond
        var remaining: Duration?
        if let total = s.total, let rate, rate > 0 {
            let left = Double(max(0, total - s.completed - s.failed)) / rate
            remaining = left.isFinite && left < 1e9 ? .nanoseconds(Int64(left * 1e9)) : nil
        }
        return ProgressSnapshot(
            backend: s.backend, nJobs: s.nJobs, total: s.total, completed: s.completed, failed: s.failed,
            retried: s.retried, elapsed: .nanoseconds(Int64(clamping: now >= s.startTime ? now - s.startTime : 0)),
            tasksPerSecond: rate, estimatedRemaining: remaining)
    }

    /// Appends an event, merging it into a pending `progressed`, and starts delivery if idle.
    private func enqueueLocked(_ s: inout State, _ event: ProgressEvent) {
        if case .progressed = event, s.pending.count > s.pendingHead, case .progressed = s.pending[s.pending.count - 1] {
            s.pending[s.pending.count - 1] = event
        } else {
            s.pending.append(event)
        }
        guard !s.draining else { return }
        s.draining = true
        queue.async { [self] in drain() }
    }

    /// Runs on `queue`: hands pending events to the handler one by one until none is left.
    private func drain() {
        guard let deliver else { return }
        while true {
            let event: ProgressEvent? = state.withLock { s in
                guard s.pendingHead < s.pending.count else {
                    s.pending.removeAll(keepingCapacity: true)
                    s.pendingHead = 0
                    s.draining = false
                    return nil
                }
                defer { s.pendingHead += 1 }
                return s.pending[s.pendingHead]
            }
            guard let event else { return }
            deliver(event)
            if case .finished = event {
                let waiters = state.withLock { s in
                    s.finishedDelivered = true
                    defer { s.waiters = [] }
                    return s.waiters
                }
                for waiter in waiters { waiter.resume() }
            }
        }
    }
}
