import ConcurrentPerformBackend
import Foundation
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

    @Test func orderHoldsWhenBatchesFinishOutOfOrder() async throws {
        _ = register()
        // Early tasks sleep longest, so later batches finish first.
        let naps = (0..<12).map { Double(12 - $0) * 0.01 }
        let results = try await Parallel(nJobs: 2, backend: "concurrent-perform", batchSize: 1)(
            naps.enumerated().map { index, seconds in
                delayed { (i: Int, s: Double) async throws -> Int in
                    try await Task.sleep(for: .seconds(s))
                    return i
                }(index, seconds)
            })
        #expect(results == Array(0..<12))
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

    @Test func bothWorkersRunAtOnce() async throws {
        _ = register()
        let running = Atomic<Int>(0)
        let peak = Atomic<Int>(0)
        _ = try await Parallel(nJobs: 2, backend: "concurrent-perform", batchSize: 1)(
            (0..<8).map { _ in
                delayed { () -> Int in
                    let now = running.add(1, ordering: .relaxed).newValue
                    _ = peak.max(now, ordering: .relaxed)
                    let end = ContinuousClock.now + .milliseconds(30)
                    while ContinuousClock.now < end {}  // CPU-bound: holds its worker
                    running.subtract(1, ordering: .relaxed)
                    return now
                }()
            })
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
            _ = try await Parallel(nJobs: 2, backend: "concurrent-perform", timeout: .milliseconds(200))(
                [0.01, 0.01, 0.01, 30].map { s in delayed { try await Task.sleep(for: .seconds(s)) }() })
        }
        #expect(error?.code == .timeout)
        #expect(error?.taskIndex == 3)
        #expect(clock.now - start < .seconds(5))
    }

    @Test func cancellingTheCallerStopsTheCall() async throws {
        _ = register()
        let call = Task {
            try await Parallel(nJobs: 2, backend: "concurrent-perform", batchSize: 1)(
                (0..<100).map { _ in delayed { try await Task.sleep(for: .seconds(1)) }() })
        }
        try await Task.sleep(for: .milliseconds(100))
        let clock = ContinuousClock()
        let start = clock.now
        call.cancel()
        await #expect(throws: CancellationError.self) { try await call.value }
        #expect(clock.now - start < .seconds(2))
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
