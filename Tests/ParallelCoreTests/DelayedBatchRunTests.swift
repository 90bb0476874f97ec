import Synchronization
import Testing

@_spi(Locking) @testable import ParallelCore

/// Running a batch of `Delayed` tasks: synchronous tasks are called in place through the borrowed
/// view of the batch's buffer, asynchronous ones are awaited between, and whatever the mix, the
/// outputs land at their offsets and a failure or an abort stops the batch where it happened.
@Suite("runDelayed: a batch of Delayed tasks, read in place")
struct DelayedBatchRunTests {
    struct Boom: Error, Equatable { var offset: Int }

    typealias Alive = AliveCount
    typealias Output = CountedOutput

    /// Records which tasks ran, in order.
    final class RunLog: Sendable {
        private let ran = LockedValue<[Int]>([])
        func append(_ offset: Int) { ran.withLock { $0.append(offset) } }
        var offsets: [Int] { ran.withLock { $0 } }
    }

    /// One task per character of `kinds` ("s" synchronous, "a" asynchronous), preceded by
    /// `padding` tasks that are sliced away, so the batch's slice does not start at index 0.
    /// Task k outputs `Output(k * 10)`, first logging k and calling `before(k)`.
    static func tasks(
        _ kinds: String, padding: Int = 0, alive: Alive, log: RunLog,
        before: @escaping @Sendable (Int) throws -> Void = { _ in }
    ) -> ArraySlice<Delayed<Output>> {
        let unused = (0..<padding).map { _ in Delayed<Output> { fatalError("a sliced-away task ran") } }
        let batch = kinds.enumerated().map { offset, kind -> Delayed<Output> in
            if kind == "a" {
                return Delayed { () async throws in
                    await Task.yield()
                    log.append(offset)
                    try before(offset)
                    return Output(offset * 10, alive)
                }
            }
            return Delayed { () throws in
                log.append(offset)
                try before(offset)
                return Output(offset * 10, alive)
            }
        }
        return (unused + batch)[padding...]
    }

    @Test("the borrowed view matches Delayed's layout for outputs of every shape")
    func viewMatchesLayout() {
        struct Wide: Sendable { var a = 0, b = 0, c = 0, d = 0, e = 0 }
        #expect(borrowedDelayedCasesMatch)
        #expect(borrowedDelayedWorkMatchesLayout(Int.self))
        #expect(borrowedDelayedWorkMatchesLayout(Void.self))
        #expect(borrowedDelayedWorkMatchesLayout(String.self))
        #expect(borrowedDelayedWorkMatchesLayout([Double].self))
        #expect(borrowedDelayedWorkMatchesLayout(Int?.self))
        #expect(borrowedDelayedWorkMatchesLayout(Wide.self))
        #expect(borrowedDelayedWorkMatchesLayout(Output.self))
    }

    @Test(
        "synchronous and asynchronous tasks in one batch run once each, in order, outputs at their offsets",
        arguments: ["", "s", "a", "ssss", "aaaa", "sasa", "assa", "ssaa", "aass", "ssssssssa"], [0, 3])
    func mixedBatchRunsInOrder(kinds: String, padding: Int) async {
        let alive = Alive()
        let log = RunLog()
        let slice = Self.tasks(kinds, padding: padding, alive: alive, log: log)
        do {
            let results = LiveResults<Output>(capacity: kinds.count)
            let outcome = await runDelayed(
                slice, progress: BatchProgress(), tracksEachTask: padding > 0, into: results)
            #expect(outcome.failure == nil)
            #expect(outcome.completedCount == kinds.count)
            #expect(log.offsets == Array(0..<kinds.count))
            #expect(results.moveOut(0..<kinds.count).map(\.value) == (0..<kinds.count).map { $0 * 10 })
        }
        #expect(alive.now == 0)
    }

    @Test(
        "a task that throws ends the batch at its offset; the ones before it stay published",
        arguments: [("ssss", 0), ("ssss", 2), ("sasa", 1), ("sasa", 2), ("aaaa", 3), ("ssas", 3)])
    func failureStopsAtItsOffset(kinds: String, failing: Int) async {
        let alive = Alive()
        let log = RunLog()
        let slice = Self.tasks(kinds, alive: alive, log: log) { offset in
            if offset == failing { throw Boom(offset: offset) }
        }
        do {
            let results = LiveResults<Output>(capacity: kinds.count)
            let outcome = await runDelayed(slice, progress: BatchProgress(), tracksEachTask: false, into: results)
            #expect(outcome.completedCount == failing)
            #expect(outcome.failure as? Boom == Boom(offset: failing))
            #expect(log.offsets == Array(0...failing), "no task after the failing one ran")
            #expect(results.publishedCount == failing)
            #expect(alive.now == failing)
        }
        #expect(alive.now == 0, "the published outputs are destroyed with the results")
    }

    @Test(
        "an abort request stops the batch before its next task, synchronous or asynchronous",
        arguments: [("ssss", 1), ("sasa", 0), ("sasa", 1), ("aaaa", 2)])
    func abortStopsBeforeTheNextTask(kinds: String, abortingAfter: Int) async {
        let alive = Alive()
        let log = RunLog()
        let progress = BatchProgress()
        let slice = Self.tasks(kinds, alive: alive, log: log) { offset in
            if offset == abortingAfter { progress.requestAbort() }
        }
        do {
            let results = LiveResults<Output>(capacity: kinds.count)
            let outcome = await runDelayed(slice, progress: progress, tracksEachTask: false, into: results)
            #expect(outcome.completedCount == abortingAfter + 1)
            #expect(outcome.failure is CancellationError)
            #expect(log.offsets == Array(0...abortingAfter))
        }
        #expect(alive.now == 0)
    }
}
