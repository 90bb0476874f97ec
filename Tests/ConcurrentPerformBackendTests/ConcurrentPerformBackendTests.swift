import ConcurrentPerformBackend
import Foundation
@_spi(Locking) import ParallelCore
import ParallelKit
import Synchronization
import Testing

/// A task error with a payload, to check it comes back as the same value.
struct Boom: Error, Equatable {
    var index: Int
}

/// Registers a fresh backend under the example's name; each test reads its own statistics.
private func register() -> ConcurrentPerformBackend {
    registerConcurrentPerformBackend()
}

/// The third-party backend of Examples/ConcurrentPerformBackend, registered from outside the
/// library and used by name. Serialized: each test registers a fresh instance under the same name.
/// It needs two CPUs, since the backend never runs more workers than CPUs and a call whose nJobs
/// resolves to 1 runs in the caller, not on the backend.
@Suite(.serialized, .enabled(if: cpuCount() >= 2, "the backend runs at most one worker per CPU"))
struct ConcurrentPerformBackendTests {
    @Test func registersByNameOnlyWhenAsked() {
        let name = "concurrent-perform-registration-check"
        #expect(!registeredParallelBackends().contains(name))
        _ = registerConcurrentPerformBackend(name: name)
        #expect(registeredParallelBackends().contains(name))
    }

    @Test func resultsComeBackInSubmissionOrder() async throws {
        let backend = register()
        let n = 2_000
        let results = try await Parallel(nJobs: 2, backend: "concurrent-perform")(
            (0..<n).map { i in delayed { (x: Int) in x * x }(i) })
        #expect(results == (0..<n).map { $0 * $0 })
        let stats = backend.statistics
        #expect(stats.calls == 1)
        #expect(stats.tasks == n)
        #expect(stats.batches >= 2)
        #expect(stats.sessions >= 1)
    }

    /// Each even task waits until the odd task after it has finished, so every pair of batches
    /// completes in reverse order (whatever the timing), and the results still come back in order.
    @Test(.timeLimit(.minutes(1)))
    func orderHoldsWhenBatchesFinishOutOfOrder() async throws {
        _ = register()
        let finished = (0..<12).map { _ in Latch() }
        let completionOrder = LockedValue<[Int]>([])
        let results = try await Parallel(nJobs: 2, backend: "concurrent-perform", batchSize: 1)(
            (0..<12).map { index in
                delayed { (i: Int) async -> Int in
                    if i.isMultiple(of: 2) { await finished[i + 1].wait() }
                    completionOrder.withLock { $0.append(i) }
                    finished[i].open()
                    return i
                }(index)
            })
        #expect(results == Array(0..<12))
        let order = completionOrder.withLock { $0 }
        for even in stride(from: 0, to: 12, by: 2) {
            let (first, second) = (order.firstIndex(of: even + 1), order.firstIndex(of: even))
            #expect(first != nil && second != nil && first! < second!, "completion order \(order)")
        }
    }

    @Test func everyTaskRunsOnAConcurrentPerformIteration() async throws {
        let backend = register()
        let workers = try await Parallel(nJobs: 2, backend: "concurrent-perform", batchSize: 1)(
            (0..<40).map { _ in
                delayed { () async throws -> Int? in
                    let before = ConcurrentPerformBackend.currentWorker
                    try await Task.sleep(for: .milliseconds(2))  // resumes on a worker, too
                    return before == nil ? nil : ConcurrentPerformBackend.currentWorker
                }()
            })
        #expect(workers.allSatisfy { $0 != nil && (0..<2).contains($0!) })
        #expect(backend.statistics.batches == 40)
        #expect(backend.statistics.tasks == 40)
        // The caller is not a worker.
        #expect(ConcurrentPerformBackend.currentWorker == nil)
    }

    /// The first two tasks block their iteration until both have arrived: only two workers
    /// running at once lets them through (a backend with one would time out the wait).
    @Test func bothWorkersRunAtOnce() async throws {
        _ = register()
        let running = Atomic<Int>(0)
        let peak = Atomic<Int>(0)
        let pair = PairBarrier()
        let met = try await Parallel(nJobs: 2, backend: "concurrent-perform", batchSize: 1)(
            (0..<8).map { index in
                delayed { (i: Int) -> Bool in
                    let now = running.add(1, ordering: .relaxed).newValue
                    _ = peak.max(now, ordering: .relaxed)
                    defer { running.subtract(1, ordering: .relaxed) }
                    return i < 2 ? pair.arriveAndWait(timeout: 20) : true  // blocks its worker
                }(index)
            })
        #expect(met.allSatisfy { $0 }, "the first two tasks never ran at the same time")
        #expect(peak.load(ordering: .relaxed) == 2)
    }

    @Test func aTaskErrorIsRethrownAsItselfAndStopsTheRest() async throws {
        let backend = register()
        let started = Atomic<Int>(0)
        let n = 200
        let error = await #expect(throws: Boom.self) {
            _ = try await Parallel(nJobs: 2, backend: "concurrent-perform", batchSize: 1)(
                (0..<n).map { i in
                    delayed { () async throws -> Int in
                        started.add(1, ordering: .relaxed)
                        if i == 5 { throw Boom(index: i) }
                        try await Task.sleep(for: .milliseconds(5))
                        return i
                    }()
                })
        }
        #expect(error == Boom(index: 5))
        #expect(started.load(ordering: .relaxed) < n / 4)
        #expect(backend.statistics.tasks < n / 4)
    }

    @Test func timeoutsComeFromTheEngine() async throws {
        _ = register()
        let clock = ContinuousClock()
        let start = clock.now
        let error = await #expect(throws: ParallelError.self) {
            // A 2 s timeout: far beyond what the 10 ms tasks take even on a busy machine, so the
            // task named is always the stuck one.
            _ = try await Parallel(nJobs: 2, backend: "concurrent-perform", timeout: .seconds(2))(
                [0.01, 0.01, 0.01, 60].map { s in delayed { try await Task.sleep(for: .seconds(s)) }() })
        }
        #expect(error?.code == .timeout)
        #expect(error?.taskIndex == 3)
        #expect(clock.now - start < .seconds(12))
    }

    @Test func cancellingTheCallerStopsTheCall() async throws {
        _ = register()
        let started = Latch()
        let call = Task {
            try await Parallel(nJobs: 2, backend: "concurrent-perform", batchSize: 1)(
                (0..<100).map { _ in
                    delayed {
                        started.open()
                        try await Task.sleep(for: .seconds(60))
                    }()
                })
        }
        await started.wait()  // a task is running: the call is under way on the backend
        let clock = ContinuousClock()
        let start = clock.now
        call.cancel()
        await #expect(throws: CancellationError.self) { try await call.value }
        // Cancellation ends the 60 s sleeps at once; 100 of them would take 50 minutes.
        #expect(clock.now - start < .seconds(10))
    }

    @Test func generatorsRunOnTheBackend() async throws {
        let backend = register()
        var ordered: [Int] = []
        for try await value in Parallel(nJobs: 2, backend: "concurrent-perform").generator(
            (0..<100).map { i in delayed { (x: Int) in x + 1 }(i) })
        {
            ordered.append(value)
        }
        #expect(ordered == Array(1...100))
        var unordered: [Int] = []
        for try await value in Parallel(nJobs: 2, backend: "concurrent-perform").generatorUnordered(
            (0..<100).map { i in delayed { (x: Int) in x + 1 }(i) })
        {
            unordered.append(value)
        }
        #expect(unordered.sorted() == Array(1...100))
        #expect(backend.statistics.calls == 2)
        #expect(backend.statistics.tasks == 200)
    }

    @Test func aScopeCanNameTheBackend() async throws {
        let backend = register()
        let squares = try await withParallelConfig(backend: "concurrent-perform", nJobs: 2) {
            try await Parallel()((0..<10).map { i in delayed { (x: Int) in x * x }(i) })
        }
        #expect(squares == (0..<10).map { $0 * $0 })
        #expect(backend.statistics.calls == 1)
        #expect(backend.statistics.tasks == 10)
    }

    @Test func neverMoreWorkersThanCPUs() {
        let backend = register()
        #expect(backend.effectiveNJobs(1_000) == cpuCount())
        #expect(backend.effectiveNJobs(1) == 1)
    }
}

/// A one-shot event: `wait()` returns once `open()` has been called (at once if it already was).
final class Latch: Sendable {
    private let state = LockedValue<(open: Bool, waiters: [CheckedContinuation<Void, Never>])>((false, []))

    func open() {
        let waiters = state.withLock { state -> [CheckedContinuation<Void, Never>] in
            guard !state.open else { return [] }
            state.open = true
            defer { state.waiters.removeAll() }
            return state.waiters
        }
        for waiter in waiters { waiter.resume() }
    }

    func wait() async {
        await withCheckedContinuation { continuation in
            let resumeNow = state.withLock { state -> Bool in
                if state.open { return true }
                state.waiters.append(continuation)
                return false
            }
            if resumeNow { continuation.resume() }
        }
    }
}

/// Two threads block until both have arrived, or until a time-out.
final class PairBarrier: @unchecked Sendable {
    // `@unchecked`: `arrived` is only touched with `condition` locked.
    private let condition = NSCondition()
    private var arrived = 0

    /// Returns true once both parties have arrived, false after `timeout` seconds.
    func arriveAndWait(timeout: TimeInterval) -> Bool {
        condition.lock()
        defer { condition.unlock() }
        arrived += 1
        if arrived >= 2 {
            condition.broadcast()
            return true
        }
        let deadline = Date().addingTimeInterval(timeout)
        while arrived < 2 {
            if !condition.wait(until: deadline) { return arrived >= 2 }
        }
        return true
    }
}
