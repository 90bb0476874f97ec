import ParallelKit
import Synchronization
import Testing

/// Results and progress counts are per task, not per batch: a task's result reaches a generator's
/// consumer, and its completion reaches the progress display, while later tasks of its batch
/// still run.
@Suite("Per-task completion inside running batches")
struct PerTaskCompletionTests {
    /// How a test consumes the call.
    enum Mode: String, CaseIterable, Sendable, CustomStringConvertible {
        case generator, generatorUnordered, resultGenerator, resultGeneratorUnordered
        var description: String { rawValue }
    }

    /// Batch sizes 1, 10 (with the whole input taken at once, so the batches really hold 10
    /// tasks) and auto.
    static let batchings: [Batching] = [
        Batching(batchSize: .fixed(1), preDispatch: "2*n_jobs"), Batching(batchSize: .fixed(10), preDispatch: "all"),
        Batching(batchSize: .auto, preDispatch: "2*n_jobs"),
    ]

    struct Batching: Sendable, CustomStringConvertible {
        var batchSize: BatchSize
        var preDispatch: PreDispatch
        var description: String { "batchSize \(batchSize), preDispatch \(preDispatch)" }
    }

    /// Counts what the consumer has seen and opens the gate the held task waits on once it has
    /// seen `threshold` results; remembers whether the consumer (not the gate's safety timer)
    /// opened it.
    final class Consumer: Sendable {
        let gate = Gate(safety: .seconds(20))
        private let openedByConsumer = Atomic<Bool>(false)
        private let seen = Atomic<Int>(0)
        let threshold: Int

        init(threshold: Int) { self.threshold = threshold }

        func saw() {
            if seen.add(1, ordering: .relaxed).newValue == threshold {
                openedByConsumer.store(true, ordering: .releasing)
                gate.open()
            }
        }

        /// What the held task returns: its own index if the consumer released it, -1 if only the
        /// safety timer did (the call deadlocked).
        func hold(_ index: Int) async -> Int {
            await gate.wait()
            return openedByConsumer.load(ordering: .acquiring) ? index : -1
        }
    }

    @Test(
        "tasks from 5 on wait for the consumer to have seen 5 results: no deadlock in any generator mode or batch size",
        arguments: Mode.allCases, batchings)
    func generatorDoesNotWaitForTheWholeBatch(mode: Mode, batching: Batching) async throws {
        let consumer = Consumer(threshold: 5)
        // Every task from 5 on waits, so the consumer can only see 5 results if they reach it
        // while their batches (which hold waiting tasks too) still run.
        let tasks = (0..<20).map { i in
            Delayed { () async -> Int in
                i >= 5 ? await consumer.hold(i) : i
            }
        }
        let parallel = Parallel(nJobs: 2, preDispatch: batching.preDispatch, batchSize: batching.batchSize)
        var values: [Int] = []
        switch mode {
        case .generator:
            for try await value in parallel.generator(tasks) {
                values.append(value)
                consumer.saw()
            }
        case .generatorUnordered:
            for try await value in parallel.generatorUnordered(tasks) {
                values.append(value)
                consumer.saw()
            }
        case .resultGenerator:
            for try await result in parallel.resultGenerator(tasks) {
                values.append(try result.get())
                consumer.saw()
            }
        case .resultGeneratorUnordered:
            for try await indexed in parallel.resultGeneratorUnordered(tasks) {
                values.append(try indexed.result.get())
                consumer.saw()
            }
        }
        #expect(values.sorted() == Array(0..<20), "the tasks were released by the consumer, not by the safety timer")
        if mode == .generator || mode == .resultGenerator { #expect(values == Array(0..<20)) }
    }

    @Test("a batch of 20 whose last task waits until the progress handler has seen 10 completed")
    func progressCountsInsideARunningBatch() async throws {
        let completedSeen = Atomic<Int>(0)
        let released = Gate(safety: .seconds(20))
        let handler = ParallelProgress.handler { event in
            if case .progressed(let snapshot) = event {
                completedSeen.max(snapshot.completed, ordering: .relaxed)
                if snapshot.completed >= 10 { released.open() }
            }
        }
        // Two batches of 20 on two workers: task 19 ends the first; every task of the second
        // waits too, so the handler can only see 10 completions from inside the first batch.
        let tasks = (0..<40).map { i in
            Delayed { () async -> Bool in
                guard i >= 19 else { return true }
                await released.wait()
                return completedSeen.load(ordering: .relaxed) >= 10
            }
        }
        let results = try await Parallel(nJobs: 2, preDispatch: "all", batchSize: 20, progress: handler)(tasks)
        #expect(results.allSatisfy { $0 }, "the held tasks were released by per-task counts, not by the safety timer")
    }

    @Test("a prefix settled early is not settled again, and the batch's other tasks still fail and retry per task")
    func settledPrefixThenFailure() async throws {
        let consumer = Consumer(threshold: 3)
        struct Boom: Error {}
        let tasks = (0..<8).map { i in
            Delayed { () async throws -> Int in
                if i == 3 { _ = await consumer.hold(i) }
                if i == 4 { throw Boom() }
                return i
            }
        }
        var fates: [Int: Bool] = [:]
        for try await indexed in Parallel(nJobs: 2, preDispatch: "all", batchSize: 8).resultGeneratorUnordered(tasks) {
            #expect(fates[indexed.index] == nil, "task \(indexed.index) delivered twice")
            fates[indexed.index] = (try? indexed.result.get()) != nil
            consumer.saw()
        }
        #expect(fates.count == 8)
        #expect(fates[4] == false)
        #expect(fates.filter { $0.key != 4 }.allSatisfy { $0.value })
    }
}
