import CParallelSupport
import Foundation
import ParallelCore
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

    private let wakeRead: Int32
    private let wakeWrite: Int32
    private let inbox = Mutex<[@Sendable () -> Void]>([])
    private let wakePending = Atomic<Bool>(false)
    private let loopThreadID = Atomic<Int32>(0)

    // Loop-thread state.
    private var registrations: [Int32: Registration] = [:]
    private var nextToken = 1
    private var timers: [Timer] = []
    private var nextTimerID = 1

    private init() throws {
        var fds: [Int32] = [-1, -1]
        guard Platform.makePipe(&fds) == 0 else { throw SystemError("creating the event loop's pipe", errno) }
        wakeRead = fds[0]
        wakeWrite = fds[1]
        FileDescriptorIO.setNonBlocking(wakeRead)
        FileDescriptorIO.setNonBlocking(wakeWrite)
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
            execute { continuation.resume(returning: work()) }
        }
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
    func unregister(_ fd: Int32) {
        assert(isLoopThread)
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
        }
    }

    private func pollTimeout() -> Int32 {
        guard let next = timers.map(\.deadline).min() else { return -1 }
        let now = MonotonicClock.now()
        if next <= now { return 0 }
        // Round up, so a timer never fires early and the loop never spins on a 0 ms timeout.
        return Int32(clamping: (next - now + 999_999) / 1_000_000)
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
