// Test support for ParallelKitTests: events to synchronise with tasks (never sleeps), inputs that
// count how far they were consumed, a backend that records what the engine hands it, and an
// output capture for the verbose tests.
import Foundation
@_spi(Locking) import ParallelCore
import ParallelKit
import Testing

// MARK: - Events

/// A one-shot event: tasks wait on it, a test opens it.
///
/// Waiting is cancellation-aware (a cancelled waiter returns at once, reporting `false`), so a task
/// the engine cancels never keeps its worker. As a safety net against a hung test, a gate opens
/// by itself after `safety` (default 30 s, far beyond every assertion's margin).
final class Gate: Sendable {
    private struct State {
        var isOpen = false
        var waiters: [Int: CheckedContinuation<Void, Never>] = [:]
        var nextID = 0
    }

    private let state = LockedValue(State())
    private let sleeper = LockedValue<Task<Void, Never>?>(nil)

    init(safety: Duration = .seconds(30)) {
        let task = Task { [weak self] in
            try? await Task.sleep(for: safety)
            if !Task.isCancelled { self?.open() }
        }
        sleeper.withLock { $0 = task }
    }

    deinit { sleeper.withLock { $0 }?.cancel() }

    var isOpen: Bool { state.withLock { $0.isOpen } }

    func open() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            state.isOpen = true
            defer { state.waiters = [:] }
            return Array(state.waiters.values)
        }
        for waiter in waiters { waiter.resume() }
        sleeper.withLock { $0 }?.cancel()
    }

    /// Waits until the gate opens (returns `true`) or the waiting task is cancelled (`false`).
    @discardableResult
    func wait() async -> Bool {
        let id = state.withLock { state -> Int in
            state.nextID += 1
            return state.nextID
        }
        await withTaskCancellationHandler {
            await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
                let resumeNow = state.withLock { state -> Bool in
                    if state.isOpen || Task.isCancelled { return true }
                    state.waiters[id] = continuation
                    return false
                }
                if resumeNow { continuation.resume() }
            }
        } onCancel: {
            let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
            waiter?.resume()
        }
        return isOpen
    }
}

/// A counter whose milestones can be awaited ("two tasks have started").
final class EventCounter: Sendable {
    private struct State {
        var count = 0
        var waiters: [UUID: (target: Int, continuation: CheckedContinuation<Bool, Never>)] = [:]
    }

    private let state = LockedValue(State())

    init() {}

    var value: Int { state.withLock { $0.count } }

    @discardableResult
    func increment() -> Int {
        let (count, ready) = state.withLock { state -> (Int, [CheckedContinuation<Bool, Never>]) in
            state.count += 1
            let due = state.waiters.filter { $0.value.target <= state.count }
            for key in due.keys { state.waiters[key] = nil }
            return (state.count, due.values.map(\.continuation))
        }
        for continuation in ready { continuation.resume(returning: true) }
        return count
    }

    /// Waits until the count reaches `target`: `true`, or `false` once `timeout` passes first (a
    /// safety net so that a broken engine fails the test instead of hanging it).
    func wait(until target: Int, timeout: Duration = .seconds(20)) async -> Bool {
        let id = UUID()
        return await withCheckedContinuation { (continuation: CheckedContinuation<Bool, Never>) in
            let reached = state.withLock { state -> Bool in
                if state.count >= target { return true }
                state.waiters[id] = (target, continuation)
                return false
            }
            if reached {
                continuation.resume(returning: true)
                return
            }
            Task { [weak self] in
                try? await Task.sleep(for: timeout)
                self?.expire(id)
            }
        }
    }

    private func expire(_ id: UUID) {
        let waiter = state.withLock { $0.waiters.removeValue(forKey: id) }
        waiter?.continuation.resume(returning: false)
    }
}

/// An append-only log shared by the input, the tasks and the test.
final class EventLog: Sendable {
    private let entries = LockedValue<[String]>([])

    init() {}

    func append(_ entry: String) { entries.withLock { $0.append(entry) } }

    var snapshot: [String] { entries.withLock { $0 } }
}

// MARK: - Inputs

/// A task error with an identity, to check it comes back as itself.
struct TestError: Error, Equatable, Codable {
    var index: Int
}

/// An input sequence consumed lazily: it counts (and optionally logs) every element pulled, so a
/// test can see how far the engine took it. Not a collection, so its length is unknown to the
/// engine, as with a Python generator.
struct CountingSequence<Element: Sendable>: Sequence, Sendable {
    let count: Int
    let pulls: EventCounter
    let log: EventLog?
    let make: @Sendable (Int) -> Element

    init(
        count: Int, pulls: EventCounter = EventCounter(), log: EventLog? = nil,
        make: @escaping @Sendable (Int) -> Element
    ) {
        self.count = count
        self.pulls = pulls
        self.log = log
        self.make = make
    }

    func makeIterator() -> Iterator { Iterator(sequence: self) }

    struct Iterator: IteratorProtocol {
        let sequence: CountingSequence
        var position = 0

        mutating func next() -> Element? {
            guard position < sequence.count else { return nil }
            defer { position += 1 }
            sequence.pulls.increment()
            sequence.log?.append("Produced \(position)")
            return sequence.make(position)
        }
    }
}

/// A job that crosses process boundaries in principle; here it runs in process.
struct SquareJob: ParallelJob {
    var x: Int
    func run() async throws -> Int { x * x }
}

// MARK: - Identity

/// The calling thread's kernel name (the threading backend names its threads `pk-threading`).
func currentThreadName() -> String {
    let name = (try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)) ?? "?"
    return name.trimmingCharacters(in: .whitespacesAndNewlines)
}

/// An identity of the current Swift task (equal for the same task while it lives).
func currentTaskID() -> Int? {
    withUnsafeCurrentTask { $0?.hashValue }
}

// MARK: - A recording backend

/// A minimal third-party-style backend: records every call's context and every batch it is handed
/// (size and first index, in submission order), and runs each batch in a `Task`.
final class RecordingBackend: ParallelBackend {
    private struct State {
        var contexts: [BackendCallContext] = []
        var batchSizes: [Int] = []
        var firstIndices: [Int] = []
        var aborts = 0
    }

    private let state = LockedValue(State())
    let name: String

    init(name: String = "RecordingBackend") { self.name = name }

    var displayName: String { name }

    var contexts: [BackendCallContext] { state.withLock { $0.contexts } }
    var batchSizes: [Int] { state.withLock { $0.batchSizes } }
    var firstIndices: [Int] { state.withLock { $0.firstIndices } }
    var aborts: Int { state.withLock { $0.aborts } }

    func startCall(_ context: BackendCallContext) async throws -> any BackendCall {
        state.withLock { $0.contexts.append(context) }
        return Call(owner: self)
    }

    fileprivate func recordBatch(_ batch: TaskBatch) {
        state.withLock {
            $0.batchSizes.append(batch.count)
            $0.firstIndices.append(batch.firstIndex)
        }
    }

    fileprivate func recordAbort() { state.withLock { $0.aborts += 1 } }

    final class Call: BackendCall {
        let owner: RecordingBackend
        init(owner: RecordingBackend) { self.owner = owner }

        func submit(_ batch: TaskBatch, completion: @escaping @Sendable (BatchOutcome) -> Void) {
            owner.recordBatch(batch)
            Task { completion(await batch.run()) }
        }

        func abort() { owner.recordAbort() }
    }
}

// MARK: - Output capture

/// Captures what is written to file descriptor 1 or 2 while `body` runs, and echoes it back to the
/// real descriptor afterwards.
///
/// The pipe is drained by a thread that keeps forwarding to the real descriptor after the capture
/// ends, so a child process that inherited the pipe meanwhile can keep writing safely. The end of
/// the capture is found with a unique marker, not with end-of-file.
func captureOutput(
    of fd: Int32, isolation: isolated (any Actor)? = #isolation, _ body: () async throws -> Void
) async throws -> String {
    fflush(nil)
    var fds: [Int32] = [0, 0]
    guard pipe(&fds) == 0 else { throw POSIXError(.EIO) }
    let readEnd = fds[0]
    let writeEnd = fds[1]
    let original = dup(fd)
    // Keep these out of child processes started meanwhile (they inherit only the redirected fd).
    for descriptor in [readEnd, writeEnd, original] { _ = fcntl(descriptor, F_SETFD, FD_CLOEXEC) }
    let marker = Array("\n<<pk-capture-end-\(UUID().uuidString)>>\n".utf8)
    let capture = CaptureBuffer(marker: marker, forwardTo: original)
    let reader = Thread {
        var chunk = [UInt8](repeating: 0, count: 65_536)
        while true {
            let n = chunk.withUnsafeMutableBytes { read(readEnd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            capture.received(chunk[0..<n])
        }
    }
    reader.start()
    dup2(writeEnd, fd)
    var failure: (any Error)?
    do { try await body() } catch { failure = error }
    fflush(nil)
    dup2(original, fd)
    _ = marker.withUnsafeBytes { write(writeEnd, $0.baseAddress, $0.count) }
    close(writeEnd)
    let text = capture.waitForMarker()
    _ = Array(text.utf8).withUnsafeBytes { write(original, $0.baseAddress, $0.count) }
    if let failure { throw failure }
    return text
}

/// The captured bytes up to the end marker; later bytes are forwarded to the real descriptor.
private final class CaptureBuffer: @unchecked Sendable {
    private let lock = NSCondition()
    private var bytes: [UInt8] = []
    private var done = false
    private let marker: [UInt8]
    private let forwardTo: Int32

    init(marker: [UInt8], forwardTo: Int32) {
        self.marker = marker
        self.forwardTo = forwardTo
    }

    func received(_ chunk: ArraySlice<UInt8>) {
        lock.lock()
        defer { lock.unlock() }
        if done {
            _ = chunk.withUnsafeBytes { write(forwardTo, $0.baseAddress, $0.count) }
            return
        }
        bytes.append(contentsOf: chunk)
        if let range = bytes.firstRange(of: marker) {
            let after = Array(bytes[range.upperBound...])
            bytes.removeSubrange(range.lowerBound...)
            done = true
            if !after.isEmpty { _ = after.withUnsafeBytes { write(forwardTo, $0.baseAddress, $0.count) } }
            lock.broadcast()
        }
    }

    func waitForMarker() -> String {
        lock.lock()
        defer { lock.unlock() }
        let deadline = Date().addingTimeInterval(20)
        while !done && lock.wait(until: deadline) {}
        return String(decoding: bytes, as: UTF8.self)
    }
}

/// Lines of captured output that come from ParallelKit's progress reporting.
func parallelLines(_ text: String) -> [String] {
    text.split(separator: "\n").map(String.init).filter { $0.hasPrefix("[Parallel(") && !$0.contains("warning:") }
}

// MARK: - Timing

/// Seconds elapsed while running `body`.
func elapsedSeconds<T>(
    isolation: isolated (any Actor)? = #isolation, _ body: () async throws -> T
) async rethrows -> (T, Double) {
    let start = ContinuousClock.now
    let value = try await body()
    let duration = ContinuousClock.now - start
    return (value, Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18)
}
