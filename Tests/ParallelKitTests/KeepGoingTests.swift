import Foundation
@_spi(Locking) import ParallelCore
import ParallelKit
import Testing

/// The results modes, retries and `maxFailures` on the in-process backends (sequential, threading,
/// and nJobs 1): every task's fate is a value, every index appears exactly once, and no success is
/// lost to another task's failure.
@Suite("Keeping going: results modes, retries, maxFailures (in process)")
struct KeepGoingTests {
    struct Poison: Error, Equatable { var index: Int }

    /// Tasks that output `i * 2`, except the poisoned indices, which throw.
    static func tasks(_ count: Int, poison: Set<Int>) -> [Delayed<Int>] {
        (0..<count).map { i in
            Delayed { () throws -> Int in
                if poison.contains(i) { throw Poison(index: i) }
                return i * 2
            }
        }
    }

    static func check(
        _ fates: [Result<Int, TaskFailure>], count: Int, poison: Set<Int>,
        sourceLocation: SourceLocation = #_sourceLocation
    ) {
        #expect(fates.count == count, sourceLocation: sourceLocation)
        for (index, fate) in fates.enumerated() {
            switch fate {
            case .success(let value):
                #expect(!poison.contains(index) && value == index * 2, "task \(index)", sourceLocation: sourceLocation)
            case .failure(let failure):
                #expect(poison.contains(index), "task \(index) failed: \(failure)", sourceLocation: sourceLocation)
                #expect(failure.taskIndex == index, sourceLocation: sourceLocation)
                #expect((failure.error as? Poison) == Poison(index: index), sourceLocation: sourceLocation)
                #expect(failure.attempts == 1, sourceLocation: sourceLocation)
            }
        }
    }

    static let shapes: [(nJobs: Int, backend: String, batchSize: BatchSize)] = [
        (1, "threading", .auto), (2, "threading", 1), (2, "threading", 10), (2, "threading", .auto),
        (2, "sequential", .auto), (3, "threading", 7),
    ]

    @Test("TaskFailure is a value: a changed copy leaves the original alone; a fate is a word over its output")
    func taskFailureIsAValue() {
        let original = TaskFailure(taskIndex: 3, error: Poison(index: 3), attempts: 2)
        var copy = original
        copy.taskIndex = 4
        copy.attempts += 1
        copy.error = Poison(index: 4)
        #expect(original.taskIndex == 3 && original.attempts == 2 && (original.error as? Poison) == Poison(index: 3))
        #expect(copy.taskIndex == 4 && copy.attempts == 3 && (copy.error as? Poison) == Poison(index: 4))
        #expect(original.description == "task 3 failed (after 2 attempts): Poison(index: 3)")
        #expect(MemoryLayout<Result<Int, TaskFailure>>.stride <= 16)
    }

    @Test("results: failures are values, successes kept, in order", arguments: 0..<shapes.count)
    func resultsKeepGoing(shape: Int) async throws {
        let (nJobs, backend, batchSize) = Self.shapes[shape]
        let poison: Set<Int> = [0, 3, 17, 18, 99]
        let parallel = Parallel(nJobs: nJobs, backend: .named(backend), batchSize: batchSize)
        let fates = try await parallel.results(Self.tasks(100, poison: poison))
        Self.check(fates, count: 100, poison: poison)
    }

    @Test("resultGenerator: the same fates, in order, as they settle", arguments: 0..<shapes.count)
    func resultGenerator(shape: Int) async throws {
        let (nJobs, backend, batchSize) = Self.shapes[shape]
        let poison: Set<Int> = [1, 50, 51]
        var fates: [Result<Int, TaskFailure>] = []
        let parallel = Parallel(nJobs: nJobs, backend: .named(backend), batchSize: batchSize)
        for try await fate in parallel.resultGenerator(Self.tasks(80, poison: poison)) { fates.append(fate) }
        Self.check(fates, count: 80, poison: poison)
    }

    @Test("resultGeneratorUnordered: every index exactly once, with its fate", arguments: 0..<shapes.count)
    func resultGeneratorUnordered(shape: Int) async throws {
        let (nJobs, backend, batchSize) = Self.shapes[shape]
        let poison: Set<Int> = [2, 40]
        var byIndex: [Int: Result<Int, TaskFailure>] = [:]
        let parallel = Parallel(nJobs: nJobs, backend: .named(backend), batchSize: batchSize)
        for try await item in parallel.resultGeneratorUnordered(Self.tasks(60, poison: poison)) {
            #expect(byIndex[item.index] == nil, "index \(item.index) seen twice")
            byIndex[item.index] = item.result
        }
        Self.check((0..<60).map { byIndex[$0]! }, count: 60, poison: poison)
    }

    @Test(
        "maxFailures: nothing starts after n failures; the rest are .notRun with 0 attempts",
        arguments: [1, 2])
    func maxFailures(nJobs: Int) async throws {
        let fates = try await Parallel(nJobs: nJobs, preDispatch: 2, batchSize: 1)
            .results(Self.tasks(50, poison: [0, 1, 2, 3]), maxFailures: 2)
        #expect(fates.count == 50)
        var failedForGood = 0
        var notRun = 0
        for (index, fate) in fates.enumerated() {
            guard case .failure(let failure) = fate else { continue }
            #expect(failure.taskIndex == index)
            if (failure.error as? ParallelError)?.code == .notRun {
                notRun += 1
                #expect(failure.attempts == 0)
            } else {
                failedForGood += 1
            }
        }
        #expect(failedForGood >= 2)
        #expect(notRun >= 40, "most tasks never started (\(notRun))")
        #expect(notRun + failedForGood + fates.filter { (try? $0.get()) != nil }.count == 50)
    }

    @Test("retry: a flaky task succeeds on a later attempt, in every mode", arguments: [1, 2])
    func retrySucceeds(nJobs: Int) async throws {
        let tries = LockedValue([Int: Int]())
        let tasks = (0..<20).map { i in
            Delayed { () throws -> Int in
                let attempt = tries.withLock {
                    $0[i, default: 0] += 1; return $0[i]!
                }
                if i % 5 == 0 && attempt < 3 { throw Poison(index: i) }
                return i
            }
        }
        let values = try await Parallel(nJobs: nJobs, batchSize: 3, retry: .attempts(3))(tasks)
        #expect(values == Array(0..<20))
        #expect(tries.withLock { $0[5] } == 3)
        #expect(tries.withLock { $0[6] } == 1)
    }

    @Test("retry: the last failure is reported with its attempts; the predicate can refuse", arguments: [1, 2])
    func retryExhaustedAndPredicate(nJobs: Int) async throws {
        let fates = try await Parallel(nJobs: nJobs, batchSize: 2, retry: .attempts(3, when: { $0.taskIndex != 4 }))
            .results(Self.tasks(10, poison: [4, 7]))
        guard case .failure(let four) = fates[4], case .failure(let seven) = fates[7] else {
            Issue.record("tasks 4 and 7 should fail")
            return
        }
        #expect(four.attempts == 1, "the predicate refused any retry of task 4")
        #expect(seven.attempts == 3)
        #expect(try fates[5].get() == 10)
    }

    @Test("retry with a backoff waits on a timer, not a thread, and the list mode throws the last error")
    func retryBackoffThenThrow() async throws {
        let clock = ContinuousClock()
        let start = clock.now
        await #expect(throws: Poison(index: 1)) {
            _ = try await Parallel(nJobs: 2, retry: .attempts(3, backoff: .milliseconds(20)))(
                Self.tasks(4, poison: [1]))
        }
        // Two waits: 20 ms, then 40 ms.
        #expect(clock.now - start >= .milliseconds(60))
    }

    @Test("a retry scope applies to calls inside it; the call's own retry wins")
    func retryScope() async throws {
        let tries = LockedValue(0)
        let flaky = [
            Delayed { () throws -> Int in
                let attempt = tries.withLock {
                    $0 += 1; return $0
                }
                if attempt < 2 { throw Poison(index: 0) }
                return 1
            }
        ]
        let value = try await withParallelConfig(retry: .attempts(2)) {
            #expect(ParallelConfig.current.retry != nil)
            return try await Parallel(nJobs: 2)(flaky)
        }
        #expect(value == [1])
        tries.withLock { $0 = 0 }
        await #expect(throws: Poison(index: 0)) {
            try await withParallelConfig(retry: .attempts(2)) { try await Parallel(nJobs: 2, retry: .never)(flaky) }
        }
    }

    @Test("a blocked thread past the timeout fails only its task; the call returns without waiting for it")
    func blockedThreadIsAbandoned() async throws {
        let release = DispatchSemaphore(value: 0)
        defer { release.signal() }
        let started = LockedValue(0)
        let tasks = (0..<12).map { i in
            Delayed { () -> Int in
                if i == 5 {
                    started.withLock { $0 += 1 }
                    release.wait()  // blocked: cancellation cannot reach it
                }
                return i
            }
        }
        let fates = try await Parallel(nJobs: 2, timeout: .milliseconds(300), batchSize: 3).results(tasks)
        #expect(fates.count == 12)
        for (index, fate) in fates.enumerated() where index != 5 { #expect(try fate.get() == index) }
        guard case .failure(let failure) = fates[5] else {
            Issue.record("task 5 should have timed out")
            return
        }
        #expect((failure.error as? ParallelError)?.code == .timeout)
        #expect(failure.taskIndex == 5)
    }

    @Test(
        "bad arguments throw before any input is taken",
        arguments: [
            (0, RetryPolicy.never), (-3, .never), (nil, .attempts(0)), (nil, .attempts(2, backoff: .seconds(-1))),
        ] as [(Int?, RetryPolicy)])
    func badArguments(maxFailures: Int?, retry: RetryPolicy) async throws {
        let meter = LockedValue(0)
        let tasks = (0..<5).lazy.map { i -> Delayed<Int> in
            meter.withLock { $0 += 1 }
            return Delayed { i }
        }
        await #expect(throws: ParallelError.self) {
            _ = try await Parallel(nJobs: 2, retry: retry).results(tasks, maxFailures: maxFailures)
        }
        var iterator = Parallel(nJobs: 2, retry: retry).resultGenerator(tasks, maxFailures: maxFailures)
            .makeAsyncIterator()
        await #expect(throws: ParallelError.self) { _ = try await iterator.next() }
        #expect(meter.withLock { $0 } == 0)
        if (try? retry.validate()) == nil {
            #expect(throws: ParallelError.self) { try withParallelConfig(retry: retry) {} }
        }
    }

    @Test("cancellation still throws CancellationError in the results modes")
    func cancellation() async throws {
        let gate = Gate()
        let task = Task {
            try await Parallel(nJobs: 2).results(
                (0..<10).map { i in
                    Delayed { () async -> Int in
                        _ = await gate.wait(); return i
                    }
                })
        }
        task.cancel()
        await #expect(throws: CancellationError.self) { _ = try await task.value }
        gate.open()
    }
}
