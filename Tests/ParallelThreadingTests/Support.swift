// Test support for ParallelThreadingTests: a blocking barrier (the threading backend's tasks may
// block their thread) and thread identity.
import Foundation
@_spi(Locking) import ParallelCore

/// A barrier for `parties` threads that *blocks* its callers. Tasks on dedicated threads may block;
/// if fewer threads than parties were available, the barrier would time out instead of passing.
final class BlockingBarrier: @unchecked Sendable {
    private let condition = NSCondition()
    private let parties: Int
    private var arrived = 0

    init(parties: Int) { self.parties = parties }

    /// Blocks until every party has arrived (`true`) or `timeout` seconds pass (`false`).
    func arriveAndWait(timeout: TimeInterval = 10) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        arrived += 1
        if arrived >= parties {
            condition.broadcast()
            return true
        }
        let deadline = Date().addingTimeInterval(timeout)
        while arrived < parties {
            if !condition.wait(until: deadline) { return arrived >= parties }
        }
        return true
    }
}

/// The calling thread's kernel name.
func currentThreadName() -> String {
    let name = (try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)) ?? "?"
    return name.trimmingCharacters(in: .whitespacesAndNewlines)
}

/// The calling thread's kernel id, from /proc (unique among live threads).
func currentThreadID() -> Int {
    let link = (try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/thread-self")) ?? ""
    return Int(link.split(separator: "/").last ?? "") ?? -1
}

/// Tracks how many tasks run at once.
final class ConcurrencyMeter: Sendable {
    private let state = LockedValue((running: 0, peak: 0))

    init() {}

    var peak: Int { state.withLock { $0.peak } }

    func enter() {
        state.withLock {
            $0.running += 1
            $0.peak = max($0.peak, $0.running)
        }
    }

    func leave() { state.withLock { $0.running -= 1 } }
}

/// A value handed back from a raw thread.
final class ThreadResult<Value: Sendable>: @unchecked Sendable {
    private let condition = NSCondition()
    private var value: Value?

    init() {}

    func set(_ newValue: Value) {
        condition.lock()
        value = newValue
        condition.broadcast()
        condition.unlock()
    }

    /// The value, or nil if none came within `timeout` seconds.
    func wait(timeout: TimeInterval = 10) -> Value? {
        condition.lock()
        defer { condition.unlock() }
        let deadline = Date().addingTimeInterval(timeout)
        while value == nil, condition.wait(until: deadline) {}
        return value
    }
}

/// The number of live threads of this process named `pk-threading` (the threading backend's pool).
func livePoolThreads() -> Int {
    let tasks = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
    return tasks.filter { tid in
        let name = (try? String(contentsOfFile: "/proc/self/task/\(tid)/comm", encoding: .utf8)) ?? ""
        return name.trimmingCharacters(in: .whitespacesAndNewlines) == "pk-threading"
    }.count
}
