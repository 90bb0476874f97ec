import Dispatch

/// The engine's side of progress reporting: it is told counts and times, and turns them into
/// ``ProgressEvent``s for a handler or a bar.
///
/// Driven by the engine on the caller's isolation (one call at a time, any thread); every method
/// is O(1) and takes one short lock, and none waits for the handler. Guarantees:
/// - ``ProgressEvent/started(_:)`` comes first and ``ProgressEvent/finished(_:)`` last, once each:
///   a method called before ``start(total:backend:nJobs:now:)`` starts the channel implicitly,
///   nothing is reported after ``finish(now:)``, and a channel released without `finish` finishes
///   itself.
/// - ``ProgressEvent/progressed(_:)`` at most once per `minimumInterval` (50 ms: about 20 a second).
///   Completions in between are reported by a trailing event at the end of the interval, so the
///   last counts never wait for the next completion.
/// - Delivery: events go through a FIFO to a thread of this channel's own (started with the first
///   event, ended after `finished`), which calls the handler one event at a time, in order. It is
///   a dedicated thread rather than a Dispatch queue so that tasks blocking every pool thread
///   cannot hold events back. While the handler is busy, pending `progressed` events are merged
///   into the newest (failures, `started` and `finished` are kept).
package final class ProgressChannel: Sendable {
    private let core: ProgressDelivery?
    private let terminal: ProgressTerminal?

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
        let deliver: (@Sendable (ProgressEvent) -> Void)?
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
        core = deliver.map { ProgressDelivery(deliver: $0, clock: clock, minimumInterval: minimumInterval.nanoseconds) }
    }

    deinit {
        // The engine finishes every call; this keeps "finished last, once" (and ends the
        // delivery thread) should a path ever miss it.
        core?.finish(now: nil)
    }

    /// Whether events go anywhere: false for ``ParallelProgress/none`` and for a bar in a nested
    /// call, so the engine may skip counting.
    package var isActive: Bool { core != nil }

    /// The call is about to run its first task.
    package func start(total: Int?, backend: String, nJobs: Int, now: UInt64) {
        core?.start(total: total, backend: backend, nJobs: nJobs, now: now)
    }

    /// The input ended: from now on snapshots carry `total`.
    package func totalBecameKnown(_ total: Int) {
        core?.totalBecameKnown(total)
    }

    /// `count` more tasks completed successfully at `now`.
    package func tasksCompleted(count: Int, now: UInt64) {
        core?.tasksCompleted(count: count, now: now)
    }

    /// A task's attempt failed: with `willRetry` it counts as retried, else as failed for good
    /// (and in the rate, as it will not run again). Reported as one
    /// ``ProgressEvent/taskFailed(_:willRetry:)``, then in the counts of the next `progressed`.
    package func taskFailed(_ failure: TaskFailure, willRetry: Bool, now: UInt64) {
        core?.taskFailed(failure, willRetry: willRetry, now: now)
    }

    /// The call is over, however it ended: reports `finished` (and `started` first if it was
    /// never started). Later calls do nothing. Call ``waitUntilDelivered()`` next so the handler
    /// has seen everything when the call returns.
    package func finish(now: UInt64) {
        core?.finish(now: now)
    }

    /// Returns once the handler has returned from `finished` (at once when the channel is
    /// inactive). Only meaningful after ``finish(now:)``.
    package func waitUntilDelivered() async {
        await core?.waitUntilDelivered()
    }

    /// Writes `text` as whole lines (a line of verbose output, say; a newline is added if it
    /// lacks one) so that a live bar is not corrupted: the bar's block is cleared, the text
    /// written, and the block drawn again below it. It goes to standard error, or through
    /// `writer` (say `{ print($0, terminator: ""); fflush(stdout) }` for verbose ≥ 50).
    package func printAbove(_ text: String, writer: ((String) -> Void)? = nil) {
        if let terminal {
            terminal.printAbove(text, writer: writer)
        } else {
            let lines = text.hasSuffix("\n") ? text : text + "\n"
            if let writer { writer(lines) } else { StandardError.write(lines) }
        }
    }

    /// How many `progressed` events the rate limit let through (before merging for a busy
    /// handler): for tests and benchmarks.
    package var progressedEmitted: Int { core?.progressedEmitted ?? 0 }
}

/// The state and the delivery thread behind an active ``ProgressChannel``.
///
/// `Sendable`: all mutable state is in one `LockedValue`; the handler runs outside it, on the delivery
/// thread, which sleeps on `wakeUp` when there is nothing to deliver.
private final class ProgressDelivery: Sendable {
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
        var lastTime: UInt64 = 0
        var rate = SmoothedRate(start: 0)
        var lastProgressedAt: UInt64?
        /// When a trailing `progressed` is due (clock time), while counts changed since the last.
        var trailingDue: UInt64?
        var pending: [ProgressEvent] = []
        var pendingHead = 0
        var threadStarted = false
        var threadSleeping = false
        var finishedDelivered = false
        var waiters: [CheckedContinuation<Void, Never>] = []
        var progressedEmitted = 0
    }

    private let state = LockedValue(State())
    private let wakeUp = DispatchSemaphore(value: 0)
    private let deliver: @Sendable (ProgressEvent) -> Void
    let clock: @Sendable () -> UInt64
    private let minimumInterval: UInt64

    init(
        deliver: @escaping @Sendable (ProgressEvent) -> Void, clock: @escaping @Sendable () -> UInt64,
        minimumInterval: UInt64
    ) {
        self.deliver = deliver
        self.clock = clock
        self.minimumInterval = minimumInterval
    }

    func start(total: Int?, backend: String, nJobs: Int, now: UInt64) {
        update { s in
            guard s.phase == .idle else { return }
            s.backend = backend
            s.nJobs = nJobs
            s.total = total
            begin(&s, now: now)
        }
    }

    func totalBecameKnown(_ total: Int) {
        update { s in
            guard s.phase != .finished else { return }
            s.total = total
            if s.phase == .running { markChanged(&s, now: s.lastTime) }
        }
    }

    func tasksCompleted(count: Int, now: UInt64) {
        guard count > 0 else { return }
        update { s in
            if s.phase == .idle { begin(&s, now: now) }
            guard s.phase == .running else { return }
            s.completed += count
            s.rate.record(count: count, at: now)
            progressed(&s, now: now)
        }
    }

    func taskFailed(_ failure: TaskFailure, willRetry: Bool, now: UInt64) {
        update { s in
            if s.phase == .idle { begin(&s, now: now) }
            guard s.phase == .running else { return }
            if willRetry {
                s.retried += 1
            } else {
                s.failed += 1
                s.rate.record(count: 1, at: now)
            }
            enqueue(&s, .taskFailed(failure, willRetry: willRetry))
            progressed(&s, now: now)
        }
    }

    /// `now` nil: the channel was released without finishing (its last known time is used).
    func finish(now: UInt64?) {
        update { s in
            let now = max(now ?? s.lastTime, s.lastTime)
            if s.phase == .idle { begin(&s, now: now) }
            guard s.phase == .running else { return }
            s.phase = .finished
            s.trailingDue = nil
            s.rate.record(count: 0, at: now, force: true)
            enqueue(&s, .finished(snapshot(s, now: now)))
        }
    }

    func waitUntilDelivered() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let done = state.withLock { s -> Bool in
                if s.finishedDelivered { return true }
                s.waiters.append(continuation)
                return false
            }
            if done { continuation.resume() }
        }
    }

    var progressedEmitted: Int { state.withLock { $0.progressedEmitted } }

    // MARK: - Under the lock

    /// Runs `change` under the lock, then starts or wakes the delivery thread if it has work.
    private func update(_ change: (inout State) -> Void) {
        enum Action { case none, wake, startThread }
        let action = state.withLock { s -> Action in
            change(&s)
            let hasWork = s.pendingHead < s.pending.count || s.trailingDue != nil
            guard hasWork else { return .none }
            if !s.threadStarted {
                s.threadStarted = true
                return .startThread
            }
            if s.threadSleeping {
                s.threadSleeping = false
                return .wake
            }
            return .none
        }
        switch action {
        case .none: break
        case .wake: wakeUp.signal()
        case .startThread:
            if CheckedThread.start(name: "pk-progress", stackSize: 512 << 10, { [self] in run() }) != 0 {
                // No thread to be had (a thread limit): deliver from Dispatch's pool instead.
                DispatchQueue.global().async { [self] in run() }
            }
        }
    }

    private func begin(_ s: inout State, now: UInt64) {
        s.phase = .running
        s.startTime = now
        s.lastTime = now
        s.rate = SmoothedRate(start: now)
        s.lastProgressedAt = nil
        enqueue(&s, .started(snapshot(s, now: now)))
    }

    /// Reports `progressed` now if the interval allows, else once at its end.
    private func progressed(_ s: inout State, now: UInt64) {
        s.lastTime = max(s.lastTime, now)
        if let last = s.lastProgressedAt, now &- last < minimumInterval {
            markChanged(&s, now: now)
            return
        }
        s.trailingDue = nil
        s.lastProgressedAt = now
        s.progressedEmitted += 1
        enqueue(&s, .progressed(snapshot(s, now: now)))
    }

    /// Counts changed inside the interval: a trailing `progressed` becomes due at its end.
    private func markChanged(_ s: inout State, now: UInt64) {
        guard s.trailingDue == nil else { return }
        s.trailingDue = (s.lastProgressedAt ?? now) &+ minimumInterval
    }

    private func snapshot(_ s: State, now: UInt64) -> ProgressSnapshot {
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

    /// Appends an event, merging it into a pending `progressed`.
    private func enqueue(_ s: inout State, _ event: ProgressEvent) {
        if case .progressed = event, s.pending.count > s.pendingHead, case .progressed = s.pending[s.pending.count - 1]
        {
            s.pending[s.pending.count - 1] = event
        } else {
            s.pending.append(event)
        }
    }

    // MARK: - The delivery thread

    /// What the delivery thread does next.
    private enum Step {
        case deliver(ProgressEvent)
        case sleep(nanoseconds: UInt64?)
        case exit
    }

    /// Delivers events until `finished` has been delivered; sleeps on `wakeUp` in between, with a
    /// timeout while a trailing `progressed` is due.
    private func run() {
        while true {
            let step = state.withLock { s -> Step in
                if s.pendingHead < s.pending.count {
                    defer { s.pendingHead += 1 }
                    return .deliver(s.pending[s.pendingHead])
                }
                s.pending.removeAll(keepingCapacity: true)
                s.pendingHead = 0
                if s.finishedDelivered { return .exit }
                if let due = s.trailingDue, s.phase == .running {
                    let now = clock()
                    if now >= due {
                        s.trailingDue = nil
                        progressed(&s, now: max(now, s.lastTime))
                        return .sleep(nanoseconds: 0)  // deliver it at once
                    }
                    s.threadSleeping = true
                    return .sleep(nanoseconds: due - now)
                }
                s.threadSleeping = true
                return .sleep(nanoseconds: nil)
            }
            switch step {
            case .exit:
                return
            case .sleep(let nanoseconds):
                switch nanoseconds {
                case 0?: continue
                case let wait?:
                    // The trailing deadline is on the channel's clock; a fake clock that has
                    // not moved yet is looked at again after at most one interval.
                    _ = wakeUp.wait(timeout: .now() + .nanoseconds(Int(clamping: min(wait, minimumInterval))))
                case nil:
                    wakeUp.wait()
                }
                state.withLock { $0.threadSleeping = false }
            case .deliver(let event):
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
}
