import Foundation
@_spi(Locking) import ParallelCore
import ParallelKit
import Synchronization
import Testing

/// Mapping one function over a collection: `Parallel.map` / `Parallel.forEach` return
/// what the equivalent list of `delayed` tasks returns, under the same rules, and never leak or
/// double-free a result when they stop early.
@Suite("Parallel.map and Parallel.forEach")
struct MapTests {
    // MARK: Results

    @Test(
        "map returns inputs.map(f), in order, for every nJobs and batchSize",
        arguments: [1, 2, 3, 8], [BatchSize.auto, 1, 7])
    func resultsInOrder(nJobs: Int, batchSize: BatchSize) async throws {
        let parallel = Parallel(nJobs: nJobs, batchSize: batchSize)
        let array = Array(0..<10_007)
        #expect(try await parallel.map(array) { $0 * 3 + 1 } == array.map { $0 * 3 + 1 })
        #expect(try await parallel.map(5..<1_005) { String($0) } == (5..<1_005).map { String($0) })
        #expect(try await parallel.map(array[100..<300]) { -$0 } == array[100..<300].map { -$0 })
        #expect(try await parallel.map([Int]()) { $0 } == [])
        #expect(try await parallel.map([42]) { $0 + 1 } == [43])
    }

    @Test("any Collection (not random access) and async transforms give the same results", arguments: [1, 2])
    func otherCollectionsAndAsync(nJobs: Int) async throws {
        let text = String(repeating: "parallel map ", count: 200)
        let parallel = Parallel(nJobs: nJobs)
        #expect(try await parallel.map(text) { $0.uppercased() } == text.map { $0.uppercased() })
        let doubled = try await parallel.map(0..<500) { (i: Int) async throws -> Int in
            await Task.yield()
            return i * 2
        }
        #expect(doubled == (0..<500).map { $0 * 2 })
    }

    @Test("forEach runs the body exactly once per input", arguments: [1, 2, 4], [false, true])
    func forEachOnce(nJobs: Int, async: Bool) async throws {
        let box = HitBox(count: 3_000)
        if async {
            try await Parallel(nJobs: nJobs).forEach(0..<3_000) { (i: Int) async in box.hit(i) }
        } else {
            try await Parallel(nJobs: nJobs).forEach(0..<3_000) { box.hit($0) }
        }
        #expect(box.counts == Array(repeating: 1, count: 3_000))
    }

    @Test("from an actor: same results, and the transform runs on the workers, not on the actor's thread")
    func fromAnActor() async throws {
        let caller = MapCaller()
        let (values, threads) = try await caller.squares(Parallel(nJobs: 2), count: 20_000)
        #expect(values == (0..<20_000).map { $0 * $0 })
        let actorThread = try #require(MapCaller.executor.thread)
        #expect(threads.allSatisfy { pthread_equal($0, actorThread) == 0 })
    }

    // MARK: Errors, cancellation and what was written

    /// The ways a call can run: the calling thread joins the workers; an actor awaits them; nJobs 1
    /// in the calling task; the general engine (a timeout sends a call there).
    enum Path: String, CaseIterable, Sendable { case joined, actor, callingTask, engine }

    static func map(
        _ path: Path, _ count: Int, _ transform: @escaping @Sendable (Int) throws -> Tracked
    ) async throws -> [Tracked] {
        switch path {
        case .joined: try await Parallel(nJobs: 2).map(0..<count, transform)
        case .actor: try await MapCaller().map(Parallel(nJobs: 2), count: count, transform)
        case .callingTask: try await Parallel(nJobs: 1).map(0..<count, transform)
        case .engine: try await Parallel(nJobs: 2, timeout: .seconds(60)).map(0..<count, transform)
        }
    }

    @Test(
        "a transform's error is rethrown as itself; every result already written is destroyed exactly once",
        arguments: Path.allCases)
    func errorFreesWrittenResults(path: Path) async throws {
        let live = LiveCount()
        await #expect(throws: TestError(index: 7_000)) {
            _ = try await Self.map(path, 20_000) { i in
                if i == 7_000 { throw TestError(index: 7_000) }
                return Tracked(i, live)
            }
        }
        #expect(live.made > 0, "some results were written before the error")
        // The engine drops a batch's results when its completion arrives, which may be after the
        // call has thrown; the direct paths have destroyed everything before they return.
        if path == .engine { await live.waitUntilNoneAlive() }
        #expect(live.alive == 0, "\(live.alive) results leaked (negative: destroyed twice)")
    }

    @Test("results that are returned are all alive, once each, and freed with the array", arguments: Path.allCases)
    func returnedResultsAreOwned(path: Path) async throws {
        let live = LiveCount()
        var results: [Tracked]? = try await Self.map(path, 5_000) { Tracked($0, live) }
        #expect(results?.map(\.value) == Array(0..<5_000))
        #expect(live.alive == 5_000)
        results = nil
        #expect(live.alive == 0)
    }

    @Test(
        "cancelling the calling task stops the items and destroys what was written",
        arguments: [Path.joined, .actor, .callingTask])
    func cancellation(path: Path) async throws {
        let live = LiveCount()
        let started = EventCounter()
        // Far more work than the test waits for (100 s on two threads): it ends at the cancel, so
        // the size costs nothing, and a test body that a loaded machine resumes late still cancels
        // a call that is running (once, at 200,000 items, the call had finished first).
        let total = 2_000_000
        // The call runs on a thread of its own: a caller that joins the workers (or runs the items
        // itself with nJobs 1) keeps its thread busy, and on a 2-core machine the cooperative pool
        // this test's body needs to resume on has only two threads, shared with other tests.
        let call = Task(executorPreference: DedicatedTaskExecutor.shared) {
            try await Self.map(path, total) { i in
                started.increment()
                usleep(50)  // the work of the item; the test waits on `started`, not on time
                return Tracked(i, live)
            }
        }
        #expect(await started.wait(until: 20))
        call.cancel()
        let outcome = await call.result
        #expect(throws: CancellationError.self) { _ = try outcome.get() }
        #expect(live.made < total, "the call stopped before running every item")
        #expect(live.alive == 0, "\(live.alive) results leaked (negative: destroyed twice)")
    }

    // MARK: Arguments, backends, nesting, timeouts

    @Test("a process backend is .notSerializable and nJobs 0 is .invalidArgument, before any item runs")
    func refusedBeforeAnythingRuns() async throws {
        let ran = Atomic<Int>(0)
        let refusal = await #expect(throws: ParallelError.self) {
            _ = try await Parallel(nJobs: 2, backend: "process").map([1, 2, 3]) {
                ran.add(1, ordering: .relaxed).newValue + $0
            }
        }
        #expect(refusal?.code == .notSerializable)
        let invalid = await #expect(throws: ParallelError.self) {
            try await Parallel(nJobs: 0).forEach(0..<3) { _ in ran.add(1, ordering: .relaxed) }
        }
        #expect(invalid?.code == .invalidArgument)
        let badDispatch = await #expect(throws: ParallelError.self) {
            _ = try await Parallel(nJobs: 2, preDispatch: "three").map(0..<3) { $0 }
        }
        #expect(badDispatch?.code == .invalidArgument)
        #expect(ran.load(ordering: .relaxed) == 0)
        // With nJobs 1 any backend runs the items in the calling task, as for Delayed.
        #expect(try await Parallel(nJobs: 1, backend: "process").map([1, 2, 3]) { $0 * 2 } == [2, 4, 6])
    }

    @Test("items see joblib's nesting rule: threading with one job one level down, also on the calling thread")
    func nesting() async throws {
        let seen = try await Parallel(nJobs: 2, batchSize: 1).map(0..<64) { _ -> (String?, Int, Int) in
            let config = ParallelConfig.current
            return (config.backend?.description, config.nestingLevel, try effectiveNJobs(nil))
        }
        #expect(seen.allSatisfy { $0.0 == "threading" && $0.1 == 1 && $0.2 == 1 })
    }

    @Test("a map inside the items of a map, both with nJobs 2, finishes with the right results")
    func nestedMaps() async throws {
        // One level down joblib's rule keeps threading, and an explicit nJobs 2 is honoured: the
        // inner calls' callers are the outer call's worker threads, joining inner workers.
        let sums = try await Parallel(nJobs: 2, batchSize: 1).map(0..<8) { (i: Int) async throws -> Int in
            try await Parallel(nJobs: 2).map(0..<1_000) { $0 * i }.reduce(0, +)
        }
        #expect(sums == (0..<8).map { 499_500 * $0 })
    }

    @Test("with a timeout an item that overruns fails the call with .timeout")
    func timeout() async throws {
        let release = Atomic<Bool>(false)
        let error = await #expect(throws: ParallelError.self) {
            _ = try await Parallel(nJobs: 2, timeout: .milliseconds(200), batchSize: 1).map(0..<8) { i -> Int in
                if i == 3 {
                    // Overruns until the test lets it go (with a 20 s safety net).
                    var waited = 0
                    while !release.load(ordering: .relaxed) && waited < 20_000 {
                        usleep(1_000)
                        waited += 1
                    }
                }
                return i
            }
        }
        release.store(true, ordering: .relaxed)
        #expect(error?.code == .timeout)
        #expect(error?.taskIndex == 3)
    }
}

// MARK: - Support

/// Counts live results: a result's `init` adds one, its `deinit` takes one away.
final class LiveCount: Sendable {
    private let aliveCount = Atomic<Int>(0)
    private let madeCount = Atomic<Int>(0)

    var alive: Int { aliveCount.load(ordering: .sequentiallyConsistent) }
    var made: Int { madeCount.load(ordering: .sequentiallyConsistent) }

    func born() {
        aliveCount.add(1, ordering: .sequentiallyConsistent)
        madeCount.add(1, ordering: .sequentiallyConsistent)
    }

    func died() { aliveCount.subtract(1, ordering: .sequentiallyConsistent) }

    /// Waits (up to 20 s, polling) until no result is alive: for results an abandoned batch still
    /// holds after the call returned.
    func waitUntilNoneAlive() async {
        for _ in 0..<2_000 where alive != 0 {
            try? await Task.sleep(for: .milliseconds(10))
        }
    }
}

/// A result whose deinit counts.
final class Tracked: Sendable {
    let value: Int
    private let live: LiveCount

    init(_ value: Int, _ live: LiveCount) {
        self.value = value
        self.live = live
        live.born()
    }

    deinit { live.died() }
}

/// Per-input hit counters.
final class HitBox: Sendable {
    private let hits: LockedValue<[Int]>

    init(count: Int) { hits = LockedValue(Array(repeating: 0, count: count)) }

    func hit(_ index: Int) { hits.withLock { $0[index] += 1 } }

    var counts: [Int] { hits.withLock { $0 } }
}

/// A caller isolated to an actor on a thread of its own, so "not on the actor" is checkable.
actor MapCaller {
    static let executor = DedicatedThreadExecutor()

    nonisolated var unownedExecutor: UnownedSerialExecutor { Self.executor.asUnownedSerialExecutor() }

    func squares(_ parallel: Parallel, count: Int) async throws -> ([Int], [pthread_t]) {
        let pairs = try await parallel.map(0..<count) { ($0 * $0, pthread_self()) }
        return (pairs.map(\.0), pairs.map(\.1))
    }

    func map(
        _ parallel: Parallel, count: Int, _ transform: @escaping @Sendable (Int) throws -> Tracked
    ) async throws -> [Tracked] {
        try await parallel.map(0..<count, transform)
    }
}

/// A task executor with one thread of its own: a task that prefers it runs there, not on Swift's
/// cooperative pool. The thread lives as long as the process (tests share one).
final class DedicatedTaskExecutor: TaskExecutor, @unchecked Sendable {
    static let shared = DedicatedTaskExecutor()

    // `jobs` is guarded by `condition`'s lock.
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []

    private init() {
        Thread { [self] in run() }.start()
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        jobs.append(job)
        condition.signal()
        condition.unlock()
    }

    private func run() {
        condition.lock()
        while true {
            while jobs.isEmpty { condition.wait() }
            let job = jobs.removeFirst()
            condition.unlock()
            job.runSynchronously(on: asUnownedTaskExecutor())
            condition.lock()
        }
    }
}

/// `retry:` applies to `map` and `forEach` as it does to `callAsFunction`: a transform that
/// fails on its first attempt at every input succeeds on the second.
@Suite("Parallel.map and forEach with retries")
struct MapRetryTests {
    /// Fails the first attempt at each input, then returns `input * 10`.
    final class FlakyOnce: Sendable {
        private let attempts = LockedValue([Int: Int]())
        struct FirstTry: Error {}

        func callAsFunction(_ input: Int) throws -> Int {
            let attempt = attempts.withLock { counts -> Int in
                counts[input, default: 0] += 1
                return counts[input]!
            }
            if attempt == 1 { throw FirstTry() }
            return input * 10
        }

        var attemptsMade: Int { attempts.withLock { $0.values.reduce(0, +) } }
    }

    @Test(
        "a transform that fails once per input succeeds with retry .attempts(2), on every path",
        arguments: [1, 2], [false, true])
    func mapRetries(nJobs: Int, synchronous: Bool) async throws {
        let flaky = FlakyOnce()
        let parallel = Parallel(nJobs: nJobs, retry: .attempts(2))
        let mapped: [Int] =
            synchronous
            ? try await parallel.map(0..<200) { try flaky($0) }
            : try await parallel.map(0..<200) { (i: Int) async throws -> Int in try flaky(i) }
        #expect(mapped == (0..<200).map { $0 * 10 })
        #expect(flaky.attemptsMade == 400)
    }

    @Test("forEach retries too", arguments: [1, 2])
    func forEachRetries(nJobs: Int) async throws {
        let flaky = FlakyOnce()
        let seen = LockedValue(Set<Int>())
        try await Parallel(nJobs: nJobs, retry: .attempts(2)).forEach(0..<200) { i in
            let value = try flaky(i)
            seen.withLock { _ = $0.insert(value) }
        }
        #expect(seen.withLock { $0 } == Set((0..<200).map { $0 * 10 }))
    }
}
