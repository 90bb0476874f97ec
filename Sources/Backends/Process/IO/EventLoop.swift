import CParallelSupport
import Foundation
@_spi(Locking) import ParallelCore
import Synchronization

// One thread for all worker I/O of the process: it waits in poll(2) on every worker's reply pipe,
// stderr pipe, request pipe (when a write is pending) and pidfd, and runs timers. Pools, workers
// and their state machines live on this thread only, so they need no locks; other threads hand it
// work with `execute`.
//
// It is also the thread that spawns workers. PR_SET_PDEATHSIG fires when the *thread* that
// created a child exits, not the process; this thread lives as long as the process, so a
// worker's death signal means exactly "the parent process is gone".

/// Something that owns descriptors registered with the event loop.
protocol EventHandler: AnyObject {
    /// Called on the loop thread with the `poll` result bits for `fd`.
    func handleEvents(_ events: Int16, on fd: Int32)
}

/// Told by the event loop when the process cannot get a thread (see `EventLoop.checkThreadStarvation`).
protocol ThreadStarvationWatcher: AnyObject {
    /// Threads are refused: free what is idle (retire idle workers). Spawning is paused meanwhile.
    func threadsStarved()
    /// Spawning may go on: start workers for waiting work again.
    func threadsAvailable()
}

/// The process-wide I/O thread of the process backends.
///
/// - Concurrency: `execute(_:)` may be called from any thread. Every other method must be called
///   on the loop thread (checked with `assert` in debug builds). `@unchecked Sendable`
///   because the mutable state below `inbox` is confined to that thread.
package final class EventLoop: @unchecked Sendable {
    /// The loop, or why it could not start (the process is out of descriptors or threads).
    private static let instance: Result<EventLoop, any Error> = Result { try EventLoop() }

    /// The loop every pool uses; its thread starts on first use and never ends.
    ///
    /// Only reached once ``checkAvailable()`` has succeeded (every call starts with it), so the
    /// failure branch is unreachable in practice; it stops with the reason rather than continuing
    /// without a loop.
    package static var shared: EventLoop {
        switch instance {
        case .success(let loop): return loop
        case .failure(let error): fatalError("ParallelKit: the process backends' I/O thread could not start: \(error)")
        }
    }

    /// Throws when the loop could not be started, so a call fails with the reason instead.
    static func checkAvailable() throws {
        _ = try instance.get()
    }

    private struct Registration {
        let token: Int
        var events: Int16
        let handler: any EventHandler
    }

    private struct Timer {
        let id: Int
        let deadline: UInt64
        let action: () -> Void
    }

    /// How long a hand-back may run before the loop checks whether threads are refused.
    static let stuckHandBack: UInt64 = 100_000_000
    /// How often, while threads may be short, the loop tries to start one.
    static let starvationProbeInterval: UInt64 = 100_000_000
    /// How long a worker start refused by a limit keeps the loop checking.
    static let refusalWindow: UInt64 = 1_000_000_000
    /// How long spawning stays paused after a refused thread: longer than libdispatch's one-second
    /// retry, so the thread it waits for is not taken by a new worker first.
    static let spawnPause: UInt64 = 1_500_000_000

    private let wakeRead: Int32
    private let wakeWrite: Int32
    private let inbox = LockedValue<[@Sendable () -> Void]>([])
    private let wakePending = Atomic<Bool>(false)
    private let loopThreadID = Atomic<Int32>(0)

    // Loop-thread state.
    private var registrations: [Int32: Registration] = [:]
    private var nextToken = 1
    private var timers: [Timer] = []
    private var nextTimerID = 1
    /// Continuation resumes and batch completions run there (nil: its thread could not start).
    private let relay: CompletionRelay?
    private struct WeakWatcher {
        weak var watcher: (any ThreadStarvationWatcher)?
    }
    private var starvationWatchers: [WeakWatcher] = []
    /// Set while threads are refused: pools start no worker (loop thread only).
    private(set) var spawningPaused = false
    private var pausedUntil: UInt64 = 0
    private var nextStarvationProbe: UInt64 = 0
    private var lastLimitRefusal: UInt64 = 0
    /// Until when (monotonic ns) batches are asked to run on their worker's own thread.
    private let limitedUntil = Atomic<UInt64>(0)
    /// How long after a refused process or thread batches run on their worker's own thread.
    static let limitedPeriod: UInt64 = 10_000_000_000

    private init() throws {
        var fds: [Int32] = [-1, -1]
        guard Platform.makePipe(&fds) == 0 else { throw SystemError("creating the event loop's pipe", errno) }
        wakeRead = fds[0]
        wakeWrite = fds[1]
        FileDescriptorIO.setNonBlocking(wakeRead)
        FileDescriptorIO.setNonBlocking(wakeWrite)
        relay = CompletionRelay.start()
        let result = CheckedThread.start(name: "pk-process-io") { [unowned self] in self.run() }
        guard result == 0 else {
            close(wakeRead)
            close(wakeWrite)
            throw SystemLimits.refused(.thread, for: "the process backends' I/O", code: result)
        }
    }

    /// Whether the caller is on the loop thread.
    var isLoopThread: Bool { loopThreadID.load(ordering: .acquiring) == Platform.currentThreadID() }

    /// Runs `work` on the loop thread, soon, in submission order.
    /// - Complexity: O(1); wakes the loop with one write unless a wake-up is already pending.
    package func execute(_ work: @escaping @Sendable () -> Void) {
        inbox.withLock { $0.append(work) }
        if !wakePending.exchange(true, ordering: .acquiringAndReleasing) {
            var byte: UInt8 = 1
            _ = write(wakeWrite, &byte, 1)
        }
    }

    /// Runs `work` on the loop thread and returns its result to an async caller.
    package func submit<R: Sendable>(_ work: @escaping @Sendable () -> R) async -> R {
        await withCheckedContinuation { continuation in
            execute { [self] in
                let result = work()
                deliver { continuation.resume(returning: result) }
            }
        }
    }

    /// Runs `work` (a continuation resume, a batch completion) off the loop thread, after the
    /// work delivered before it: resuming a Swift task can block while the system refuses the
    /// cooperative pool a thread, and the loop must keep reaping workers meanwhile
    /// (`CompletionRelay`). Runs `work` here only when the relay's thread could not start.
    /// - Complexity: O(1).
    package func deliver(_ work: @escaping @Sendable () -> Void) {
        if let relay { relay.post(work) } else { work() }
    }

    // MARK: Loop-thread API

    /// Watches `fd` for `events` (POLLIN / POLLOUT); replaces an earlier registration of `fd`.
    func register(_ fd: Int32, events: Int16, handler: any EventHandler) {
        assert(isLoopThread)
        registrations[fd] = Registration(token: nextToken, events: events, handler: handler)
        nextToken += 1
    }

    /// Changes the events watched on a registered `fd`.
    func setEvents(_ fd: Int32, _ events: Int16) {
        assert(isLoopThread)
        registrations[fd]?.events = events
    }

    /// Stops watching `fd` (before it is closed, so a reused number is not confused with it).
    /// With `handler`, only while `fd` is registered to that handler: a number its owner lost to
    /// a foreign close may have been registered by another handler since.
    func unregister(_ fd: Int32, handler: (any EventHandler)? = nil) {
        assert(isLoopThread)
        if let handler, registrations[fd]?.handler !== handler { return }
        registrations.removeValue(forKey: fd)
    }

    /// Runs `action` on the loop thread at `deadline` (monotonic ns). Returns an id for `cancel`.
    @discardableResult
    func schedule(at deadline: UInt64, _ action: @escaping () -> Void) -> Int {
        assert(isLoopThread)
        let id = nextTimerID
        nextTimerID += 1
        timers.append(Timer(id: id, deadline: deadline, action: action))
        return id
    }

    /// Cancels a timer (no-op when it already ran).
    func cancel(timer id: Int) {
        assert(isLoopThread)
        timers.removeAll { $0.id == id }
    }

    /// Asks to be told when threads are refused (kept weakly; registering twice is harmless).
    func watchThreadStarvation(_ watcher: any ThreadStarvationWatcher) {
        assert(isLoopThread)
        starvationWatchers.removeAll { $0.watcher == nil }
        guard !starvationWatchers.contains(where: { $0.watcher === watcher }) else { return }
        starvationWatchers.append(WeakWatcher(watcher: watcher))
    }

    /// A worker could not be started, perhaps for a limit: check for a while whether threads are
    /// refused too.
    func noteLimitRefusal() {
        assert(isLoopThread)
        lastLimitRefusal = max(MonotonicClock.now(), 1)
        limitedUntil.store(lastLimitRefusal &+ Self.limitedPeriod, ordering: .relaxed)
    }

    /// Tests: keeps ``isUnderALimit`` true from now until called with `false` (then it follows the
    /// last real refusal again), so a test that needs the limited mode does not depend on reaching
    /// its check within ``limitedPeriod`` on a loaded machine.
    func holdLimitForTesting(_ holding: Bool) {
        assert(isLoopThread)
        if holding {
            limitedUntil.store(.max, ordering: .relaxed)
        } else {
            limitedUntil.store(lastLimitRefusal == 0 ? 0 : lastLimitRefusal &+ Self.limitedPeriod, ordering: .relaxed)
        }
    }

    /// Whether the system refused a worker process or thread lately: batches encoded now ask
    /// their worker to run them on its own thread, since a worker's new pool thread might be
    /// refused too (`BatchThreadExecutor`). Any thread.
    /// - Complexity: one atomic load and a clock read.
    var isUnderALimit: Bool {
        let until = limitedUntil.load(ordering: .relaxed)
        return until != 0 && MonotonicClock.now() < until
    }

    // MARK: Thread starvation

    /// Whether the loop must wake up regularly to look for thread starvation.
    private func watchingForStarvation(now: UInt64) -> Bool {
        spawningPaused || relay?.hasWork == true
            || (lastLimitRefusal != 0 && now &- lastLimitRefusal < Self.refusalWindow)
    }

    /// Under a pids or process limit full of workers, the program itself can be refused the
    /// thread it needs to take in results (a stuck hand-back, or the cooperative pool), and then
    /// no call ends and no worker is ever retired: a livelock. When a hand-back is
    /// stuck or a worker start was refused lately, the loop tries to start a thread (one that ends
    /// at once), at most every 100 ms. Refused: spawning pauses for longer than libdispatch's
    /// retry interval and every pool retires its idle workers, which frees the pids. Once a
    /// thread starts again after the pause, pools go on spawning for waiting work.
    private func checkThreadStarvation() {
        let now = MonotonicClock.now()
        guard watchingForStarvation(now: now), now >= nextStarvationProbe else { return }
        let stuck = (relay?.busyTime(now: now) ?? 0) >= Self.stuckHandBack
        let refusedLately = lastLimitRefusal != 0 && now &- lastLimitRefusal < Self.refusalWindow
        guard stuck || refusedLately || spawningPaused else { return }
        nextStarvationProbe = now &+ Self.starvationProbeInterval
        let watchers = starvationWatchers.compactMap(\.watcher)
        if CheckedThread.start(name: "pk-probe", stackSize: 64 << 10, {}) != 0 {
            limitedUntil.store(now &+ Self.limitedPeriod, ordering: .relaxed)
            spawningPaused = true
            pausedUntil = now &+ Self.spawnPause
            for watcher in watchers { watcher.threadsStarved() }
        } else if spawningPaused && now >= pausedUntil {
            spawningPaused = false
            for watcher in watchers { watcher.threadsAvailable() }
        }
    }

    // MARK: The loop

    private func run() -> Never {
        loopThreadID.store(Platform.currentThreadID(), ordering: .releasing)
        Platform.setCurrentThreadName("pk-process-io")
        SignalMask.blockSIGPIPEOnThisThread()
        var pollSet: [pollfd] = []
        var tokens: [Int] = []
        while true {
            pollSet.removeAll(keepingCapacity: true)
            tokens.removeAll(keepingCapacity: true)
            pollSet.append(pollfd(fd: wakeRead, events: Int16(POLLIN), revents: 0))
            tokens.append(0)
            for (fd, registration) in registrations where registration.events != 0 {
                pollSet.append(pollfd(fd: fd, events: registration.events, revents: 0))
                tokens.append(registration.token)
            }
            let ready = poll(&pollSet, nfds_t(pollSet.count), pollTimeout())
            if ready < 0 && errno != EINTR {
                // Only a lack of memory or more descriptors than RLIMIT_NOFILE get here (a closed
                // descriptor is reported per descriptor, as POLLNVAL). Say so and retry shortly
                // rather than end the program or spin.
                let message = "ParallelKit: poll on \(pollSet.count) descriptors failed (errno \(errno)); retrying\n"
                FileDescriptorIO.writeAll(2, Array(message.utf8))
                usleep(10_000)
            }
            if ready > 0 {
                if pollSet[0].revents != 0 { drainWakeups() }
                for index in 1..<pollSet.count where pollSet[index].revents != 0 {
                    let fd = pollSet[index].fd
                    // A handler earlier in this round may have closed this fd and another may
                    // have registered a new one with the same number: the token tells them apart.
                    guard let registration = registrations[fd], registration.token == tokens[index] else { continue }
                    registration.handler.handleEvents(pollSet[index].revents, on: fd)
                }
            }
            runPendingWork()
            runDueTimers()
            checkThreadStarvation()
        }
    }

    private func pollTimeout() -> Int32 {
        let now = MonotonicClock.now()
        let probe: Int32 = watchingForStarvation(now: now) ? Int32(Self.starvationProbeInterval / 1_000_000) : -1
        guard let next = timers.map(\.deadline).min() else { return probe }
        if next <= now { return 0 }
        // Round up, so a timer never fires early and the loop never spins on a 0 ms timeout.
        let timer = Int32(clamping: (next - now + 999_999) / 1_000_000)
        return probe < 0 ? timer : min(timer, probe)
    }

    private func drainWakeups() {
        var buffer = [UInt8](repeating: 0, count: 64)
        while read(wakeRead, &buffer, buffer.count) > 0 {}
    }

    private func runPendingWork() {
        // Cleared before taking the inbox: work added after this point writes a new wake-up.
        wakePending.store(false, ordering: .releasing)
        let work = inbox.withLock { inbox in
            defer { inbox.removeAll(keepingCapacity: true) }
            return inbox
        }
        for item in work { item() }
    }

    private func runDueTimers() {
        guard !timers.isEmpty else { return }
        let now = MonotonicClock.now()
        let due = timers.filter { $0.deadline <= now }
        guard !due.isEmpty else { return }
        timers.removeAll { $0.deadline <= now }
        for timer in due.sorted(by: { $0.deadline < $1.deadline }) { timer.action() }
    }
}
