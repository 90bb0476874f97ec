import Foundation
@_spi(Locking) import ParallelCore
import ParallelKit
import Testing

/// The threading backend: a pool of dedicated threads of this process, at most nJobs batches at
/// once, nJobs above the core count oversubscribes (for I/O), tasks share the caller's memory, and
/// the configuration scope is re-bound on its threads.
@Suite("Threading backend: dedicated threads, nJobs wide")
struct ThreadingBackendTests {
    @Test("tasks run on the backend's named threads, never on the caller's task", arguments: [2, 3, -1])
    func runsOnPoolThreads(nJobs: Int) async throws {
        try #require(try effectiveNJobs(nJobs) > 1)
        let names = try await Parallel(nJobs: nJobs, backend: "threading", batchSize: 1)(
            (0..<16).map { _ in
                Delayed { currentThreadName() }
            })
        #expect(names.allSatisfy { $0 == "pk-threading" }, "\(Set(names))")
    }

    @Test("nJobs threads really run at once: a blocking barrier for nJobs tasks passes", arguments: [2, 4, 8])
    func nJobsThreadsAtOnce(nJobs: Int) async throws {
        // 4 and 8 are above the 2 cores here: oversubscription, as joblib allows for I/O.
        let barrier = BlockingBarrier(parties: nJobs)
        let passed = try await Parallel(nJobs: nJobs, batchSize: 1)(
            (0..<nJobs).map { _ in
                Delayed { () -> (Bool, Int) in (barrier.arriveAndWait(), currentThreadID()) }
            })
        #expect(passed.allSatisfy { $0.0 }, "fewer than \(nJobs) threads ran the tasks")
        #expect(Set(passed.map(\.1)).count == nJobs, "the tasks did not run on \(nJobs) distinct threads")
    }

    @Test("at most nJobs tasks run at once, and exactly nJobs can", arguments: [1, 2, 3])
    func atMostNJobs(nJobs: Int) async throws {
        let meter = ConcurrencyMeter()
        // The first nJobs tasks wait for each other inside the meter, so the peak reaches nJobs
        // whatever the timing; the others block their thread briefly, inviting an overshoot.
        let gate = BlockingBarrier(parties: nJobs)
        let results = try await Parallel(nJobs: nJobs, backend: "threading", batchSize: 1)(
            (0..<24).map { i in
                Delayed { () -> (Int, Bool) in
                    meter.enter()
                    defer { meter.leave() }
                    let met = i < nJobs ? gate.arriveAndWait(timeout: 20) : true
                    Thread.sleep(forTimeInterval: 0.002)  // work that blocks its thread
                    return (i, met)
                }
            })
        #expect(results.map(\.0) == Array(0..<24))
        #expect(results.allSatisfy { $0.1 }, "the first \(nJobs) tasks did not all run at once")
        #expect(meter.peak == nJobs)
    }

    @Test("blocking tasks on the pool do not starve Swift's cooperative pool")
    func blockingDoesNotStarve() async throws {
        let barrier = BlockingBarrier(parties: 5)
        async let blocked = Parallel(nJobs: 4, batchSize: 1)(
            (0..<4).map { _ in Delayed { barrier.arriveAndWait(timeout: 20) } })
        // Meanwhile ordinary async work still runs, and completes the barrier.
        let ran = await Task { () -> Bool in
            try? await Task.sleep(for: .milliseconds(1))
            return true
        }.value
        #expect(ran)
        let releaser = Thread { _ = barrier.arriveAndWait(timeout: 20) }
        releaser.start()
        #expect(try await blocked.allSatisfy { $0 })
    }

    @Test("test_mutate_input_with_threads: tasks share the caller's memory")
    func sharedMemory() async throws {
        let queue = SharedQueue(capacity: 5)
        _ = try await Parallel(nJobs: 2, backend: "threading", require: .sharedMemory)(
            (0..<5).map { _ in
                Delayed { queue.put(1) }
            })
        #expect(queue.isFull)
    }

    @Test("workers are reused across calls: 200 calls in a row do not pile up threads")
    func manyCalls() async throws {
        let p = Parallel(nJobs: 2, batchSize: 1)
        for round in 0..<200 {
            let results = try await p((0..<10).map { i in delayed { i + round }() })
            #expect(results.first == round)
        }
        // A thread per call would leave hundreds alive (idle threads live for seconds); other
        // suites share the pool, hence the generous bound.
        let seenFromTask = try await p([Delayed { livePoolThreads() }])
        #expect(seenFromTask[0] >= 1, "the pool's threads are counted")
        let poolThreads = livePoolThreads()
        #expect(poolThreads < 100, "\(poolThreads) pk-threading threads alive after 200 calls")
    }

    @Test("the configuration scope is visible to tasks on pool threads, with the nesting applied")
    func scopeOnPoolThreads() async throws {
        let observed = try await withParallelConfig(verbose: 0, tempFolder: "/tmp/threads", maxNbytes: "2K") {
            try await Parallel(nJobs: 3, batchSize: 1)(
                (0..<12).map { _ in
                    Delayed { () -> (String?, MaxNbytes?, Int, BackendChoice?, String) in
                        let c = ParallelConfig.current
                        return (c.tempFolder, c.maxNbytes, c.nestingLevel, c.backend, currentThreadName())
                    }
                })
        }
        for (folder, maxNbytes, level, backend, thread) in observed {
            #expect(folder == "/tmp/threads")
            #expect(maxNbytes == "2K")
            #expect(level == 1)
            #expect(backend == "threading")
            #expect(thread == "pk-threading")
        }
    }

    @Test("a raw thread started by a task does not see the scope (only tasks inherit it)")
    func rawThreadFromTask() async throws {
        let observed = try await withParallelConfig(tempFolder: "/tmp/raw") {
            try await Parallel(nJobs: 2)(
                (0..<2).map { _ in
                    Delayed { () -> String? in
                        let result = ThreadResult<String?>()
                        Thread { result.set(ParallelConfig.current.tempFolder) }.start()
                        return result.wait() ?? "not run"
                    }
                })
        }
        #expect(observed == [nil, nil])
    }

    @Test("unlike joblib (batch 1 for threads), the threading backend batches trivial tasks with .auto")
    func autoBatchingOnThreads() async throws {
        let recorder = BatchRecordingThreads()
        let count = 50_000
        let results = try await Parallel(nJobs: 2, backend: .instance(recorder))(
            (0..<count).map { i in delayed { i }() })
        #expect(results == Array(0..<count))
        let sizes = recorder.sizes
        #expect(sizes.reduce(0, +) == count)
        #expect((sizes.max() ?? 0) > 1)
        #expect(sizes.count < count / 10, "\(sizes.count) batches for \(count) trivial tasks")
    }

    @Test("concurrent scopes inside pool tasks do not leak into each other (test_backend_context_manager)")
    func scopesAreTaskLocal() async throws {
        let observed = try await Parallel(nJobs: 4, batchSize: 1)(
            (0..<16).map { i in
                Delayed { () async throws -> (Int, Int) in
                    try await withParallelConfig(nJobs: i + 1) { () async throws -> (Int, Int) in
                        await Task.yield()
                        return (i + 1, try effectiveNJobs(nil))
                    }
                }
            })
        #expect(observed.allSatisfy { $0.0 == $0.1 })
    }

    @Test("the sequential backend by name runs in the calling thread's task, with no pool thread")
    func sequentialBackend() async throws {
        let names = try await Parallel(nJobs: 4, backend: "sequential")(
            (0..<4).map { _ in Delayed { currentThreadName() } })
        #expect(!names.contains("pk-threading"))
    }
}

/// A bounded queue shared with tasks by reference (Python's `Queue(maxsize=5)`).
final class SharedQueue: Sendable {
    private let items = LockedValue<[Int]>([])
    let capacity: Int

    init(capacity: Int) { self.capacity = capacity }

    func put(_ item: Int) { items.withLock { if $0.count < capacity { $0.append(item) } } }

    var isFull: Bool { items.withLock { $0.count == capacity } }
}

/// The threading backend, observed: records the size of every batch the engine submits to it.
final class BatchRecordingThreads: ParallelBackend {
    private let threading = ThreadingBackend()
    private let recorded = LockedValue<[Int]>([])

    var sizes: [Int] { recorded.withLock { $0 } }
    var displayName: String { threading.displayName }
    var capabilities: BackendCapabilities { threading.capabilities }
    var autoBatching: AutoBatchingPolicy { threading.autoBatching }

    func startCall(_ context: BackendCallContext) async throws -> any BackendCall {
        Recording(inner: try await threading.startCall(context), owner: self)
    }

    fileprivate func record(_ size: Int) { recorded.withLock { $0.append(size) } }

    final class Recording: BackendCall {
        let inner: any BackendCall
        let owner: BatchRecordingThreads

        init(inner: any BackendCall, owner: BatchRecordingThreads) {
            self.inner = inner
            self.owner = owner
        }

        func submit(_ batch: TaskBatch, completion: @escaping @Sendable (BatchOutcome) -> Void) {
            owner.record(batch.count)
            inner.submit(batch, completion: completion)
        }

        func abort() { inner.abort() }

        func finish() async { await inner.finish() }
    }
}
