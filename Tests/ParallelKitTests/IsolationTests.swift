import Foundation
@_spi(Locking) import ParallelCore
import ParallelKit
import Testing

/// The input sequence is consumed lazily, on the caller's isolation (hence `#isolation`),
/// while the tasks run on the backend's workers. The caller here is an actor whose executor is one
/// dedicated thread, so "on the caller's isolation" is checkable as "on that thread".
@Suite("Isolation: inputs are taken on the caller's actor")
struct IsolationTests {
    static let executor = DedicatedThreadExecutor()

    actor PinnedCaller {
        nonisolated var unownedExecutor: UnownedSerialExecutor { IsolationTests.executor.asUnownedSerialExecutor() }

        func list(_ parallel: Parallel, _ input: CountingSequence<Delayed<pthread_t>>) async throws -> [pthread_t] {
            try await parallel(input)
        }

        func list(_ parallel: Parallel, _ tasks: [Delayed<pthread_t>]) async throws -> [pthread_t] {
            try await parallel(tasks)
        }

        func map(_ parallel: Parallel, count: Int) async throws -> [pthread_t] {
            try await parallel.map(0..<count) { _ in pthread_self() }
        }

        func forEach(_ parallel: Parallel, count: Int, into log: ThreadLog) async throws {
            try await parallel.forEach(0..<count) { _ in log.record(pthread_self()) }
        }

        func drain(
            _ parallel: Parallel, _ input: CountingSequence<Delayed<pthread_t>>, unordered: Bool
        ) async throws -> [pthread_t] {
            var out: [pthread_t] = []
            for try await value in unordered ? parallel.generatorUnordered(input) : parallel.generator(input) {
                out.append(value)
            }
            return out
        }
    }

    /// An input that records the thread each element is taken on; each task returns its own thread.
    static func input(_ pulls: ThreadLog) -> CountingSequence<Delayed<pthread_t>> {
        CountingSequence(count: 200) { _ in
            pulls.record(pthread_self())
            return Delayed { pthread_self() }
        }
    }

    @Test("a list call from an actor takes every input on the actor; the tasks run on workers")
    func listCall() async throws {
        let pulls = ThreadLog()
        let ran = try await PinnedCaller().list(Parallel(nJobs: 2, preDispatch: 4, batchSize: 1), Self.input(pulls))
        let callerThread = try #require(Self.executor.thread)
        #expect(pulls.threads.count == 200)
        #expect(pulls.threads.allSatisfy { pthread_equal($0, callerThread) != 0 })
        #expect(ran.allSatisfy { pthread_equal($0, callerThread) == 0 })
    }

    @Test("a generator iterated on an actor takes its inputs there too", arguments: [false, true])
    func generator(unordered: Bool) async throws {
        let pulls = ThreadLog()
        let ran = try await PinnedCaller().drain(
            Parallel(nJobs: 2, batchSize: 1), Self.input(pulls), unordered: unordered)
        let callerThread = try #require(Self.executor.thread)
        #expect(ran.count == 200)
        #expect(pulls.threads.allSatisfy { pthread_equal($0, callerThread) != 0 })
    }

    /// Synchronous tasks (`delayed(f)` with a synchronous `f`) that return their own thread.
    static func synchronousTasks() -> CountingSequence<Delayed<pthread_t>> {
        CountingSequence(count: 200) { i in delayed({ (_: Int) -> pthread_t in pthread_self() })(i) }
    }

    @Test(
        "with nJobs 1 synchronous tasks run on the caller's actor itself: no executor hop per task",
        arguments: [false, true])
    func sequentialTasksStayOnTheActor(generator: Bool) async throws {
        let caller = PinnedCaller()
        let ran =
            generator
            ? try await caller.drain(Parallel(nJobs: 1), Self.synchronousTasks(), unordered: false)
            : try await caller.list(Parallel(nJobs: 1), Self.synchronousTasks())
        let callerThread = try #require(Self.executor.thread)
        #expect(ran.count == 200)
        #expect(ran.allSatisfy { pthread_equal($0, callerThread) != 0 })
    }

    @Test("Delayed { … } with a synchronous body is a synchronous task: with nJobs 1 it runs on the caller's actor")
    func synchronousDelayedInitializer() async throws {
        // An `async` closure made here is nonisolated and would run on the global executor, not on
        // the actor's thread; only the synchronous overload keeps the task on the caller's thread.
        let tasks = CountingSequence(count: 50) { _ in Delayed { pthread_self() } }
        let ran = try await PinnedCaller().list(Parallel(nJobs: 1), tasks)
        let callerThread = try #require(Self.executor.thread)
        #expect(ran.count == 50)
        #expect(ran.allSatisfy { pthread_equal($0, callerThread) != 0 })
    }

    @Test("with nJobs 1 an array of tasks runs on the caller's actor, chunk after chunk, with no executor hop")
    func sequentialArrayStaysOnTheActor() async throws {
        // An array input runs in chunks of 4,096 tasks; 10,000 tasks are three of them.
        let tasks = (0..<10_000).map { delayed({ (_: Int) -> pthread_t in pthread_self() })($0) }
        let ran = try await PinnedCaller().list(Parallel(nJobs: 1), tasks)
        let callerThread = try #require(Self.executor.thread)
        #expect(ran.count == 10_000)
        #expect(ran.allSatisfy { pthread_equal($0, callerThread) != 0 })
    }

    @Test("with nJobs 1 a small array of tasks runs on the caller's actor too")
    func sequentialSmallArrayStaysOnTheActor() async throws {
        let tasks = (0..<10).map { delayed({ (_: Int) -> pthread_t in pthread_self() })($0) }
        let ran = try await PinnedCaller().list(Parallel(nJobs: 1), tasks)
        let callerThread = try #require(Self.executor.thread)
        #expect(ran.count == 10)
        #expect(ran.allSatisfy { pthread_equal($0, callerThread) != 0 })
    }

    @Test("with nJobs 1 map and forEach run their closures on the caller's actor")
    func sequentialMapStaysOnTheActor() async throws {
        let caller = PinnedCaller()
        let mapped = try await caller.map(Parallel(nJobs: 1), count: 1_000)
        let log = ThreadLog()
        try await caller.forEach(Parallel(nJobs: 1), count: 1_000, into: log)
        let callerThread = try #require(Self.executor.thread)
        #expect(mapped.count == 1_000)
        #expect(mapped.allSatisfy { pthread_equal($0, callerThread) != 0 })
        #expect(log.threads.count == 1_000)
        #expect(log.threads.allSatisfy { pthread_equal($0, callerThread) != 0 })
    }

    /// A threading backend whose `startCall` records the thread it runs on and the isolation it
    /// was called with (a `nonisolated(nonsending)` function's `#isolation` is its caller's).
    final class StartRecordingBackend: ParallelBackend {
        let threading = ThreadingBackend()
        let starts = ThreadLog()
        let isolatedStarts = LockedValue(0)

        nonisolated(nonsending) func startCall(_ context: BackendCallContext) async throws -> any BackendCall {
            starts.record(pthread_self())
            let isolation: (any Actor)? = #isolation
            if isolation != nil { isolatedStarts.withLock { $0 += 1 } }
            return try await threading.startCall(context)
        }
    }

    @Test("a call from an actor starts its backend call on the actor, with the actor as its isolation")
    func backendCallStartsOnTheActor() async throws {
        let backend = StartRecordingBackend()
        let tasks = (0..<100).map { delayed({ (_: Int) -> pthread_t in pthread_self() })($0) }
        let ran = try await PinnedCaller().list(Parallel(nJobs: 2, backend: .instance(backend)), tasks)
        let callerThread = try #require(Self.executor.thread)
        #expect(ran.count == 100)
        #expect(backend.starts.threads.count == 1)
        #expect(backend.starts.threads.allSatisfy { pthread_equal($0, callerThread) != 0 })
        #expect(backend.isolatedStarts.withLock { $0 } == 1, "startCall was called off the caller's actor")
    }

    @Test("with nJobs 1 the inputs are taken on the actor as well")
    func sequential() async throws {
        let pulls = ThreadLog()
        _ = try await PinnedCaller().list(Parallel(nJobs: 1), Self.input(pulls))
        let callerThread = try #require(Self.executor.thread)
        #expect(pulls.threads.allSatisfy { pthread_equal($0, callerThread) != 0 })
    }
}

/// Records threads.
final class ThreadLog: @unchecked Sendable {
    private let lock = NSLock()
    private var recorded: [pthread_t] = []

    func record(_ thread: pthread_t) {
        lock.lock()
        recorded.append(thread)
        lock.unlock()
    }

    var threads: [pthread_t] {
        lock.lock()
        defer { lock.unlock() }
        return recorded
    }
}

/// A serial executor that runs every job on one dedicated thread.
final class DedicatedThreadExecutor: SerialExecutor, @unchecked Sendable {
    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []
    private var runner: pthread_t?

    init() {
        let worker = Thread { [self] in run() }
        worker.start()
    }

    /// The thread that runs the jobs (once it has started).
    var thread: pthread_t? {
        condition.lock()
        defer { condition.unlock() }
        while runner == nil { condition.wait() }
        return runner
    }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        jobs.append(job)
        condition.broadcast()
        condition.unlock()
    }

    private func run() {
        condition.lock()
        runner = pthread_self()
        condition.broadcast()
        while true {
            while jobs.isEmpty { condition.wait() }
            let job = jobs.removeFirst()
            condition.unlock()
            job.runSynchronously(on: asUnownedSerialExecutor())
            condition.lock()
        }
    }
}
