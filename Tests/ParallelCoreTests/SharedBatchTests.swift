import Synchronization
import Testing

@testable import ParallelCore

/// A batch several workers claim chunks from: every chunk runs once, the copy that ends last
/// reports the batch, and every output is destroyed exactly once whatever happens.
@Suite("SharedBatch: one batch, many claimers")
struct SharedBatchTests {
    struct Boom: Error, Equatable { var index: Int }

    typealias Alive = AliveCount
    typealias Output = CountedOutput

    /// A shared batch over inputs 0..<count whose task i outputs `Output(i * 10)`, throws
    /// `Boom(i)` when `fails(i)`, and calls `ran(i)` first.
    static func batch(
        count: Int, claimSize: Int, copies: Int, alive: Alive, progress: BatchProgress = BatchProgress(),
        countsCompletedTasks: Bool = false,
        fails: @escaping @Sendable (Int) -> Bool = { _ in false }, ran: @escaping @Sendable (Int) -> Void = { _ in }
    ) -> SharedBatch<Int, Output> {
        SharedBatch(
            tasks: ArraySlice(0..<count), claimSize: claimSize, copies: copies, progress: progress,
            countsCompletedTasks: countsCompletedTasks,
            run: { slice, progress, track, results in
                await runEach(slice, progress: progress, tracksEachTask: track, into: results) { i in
                    ran(i)
                    if fails(i) { throw Boom(index: i) }
                    return Output(i * 10, alive)
                }
            })
    }

    /// Runs `copies` claimers at once and reports each end; returns the outcomes `runEnded` gave.
    static func runCopies(_ shared: SharedBatch<Int, Output>, copies: Int) async -> [BatchOutcome] {
        await withTaskGroup(of: BatchOutcome?.self) { group in
            for _ in 0..<copies {
                group.addTask {
                    await shared.runClaims()
                    return shared.runEnded(BatchOutcome(publishedCount: 0, failure: nil))
                }
            }
            var outcomes: [BatchOutcome] = []
            for await outcome in group { if let outcome { outcomes.append(outcome) } }
            return outcomes
        }
    }

    @Test(
        "every task runs once; only the copy that ends last reports, with every output in order",
        arguments: [(1, 1), (1_000, 1), (1_000, 7), (999, 64), (5, 8)], [1, 2, 3])
    func everyTaskOnceInOrder(shape: (count: Int, claimSize: Int), copies: Int) async {
        let alive = Alive()
        let runs = Atomic<Int>(0)
        let shared = Self.batch(
            count: shape.count, claimSize: shape.claimSize, copies: copies, alive: alive,
            ran: { _ in runs.add(1, ordering: .relaxed) })
        #expect(shared.chunks == (shape.count + shape.claimSize - 1) / shape.claimSize)
        let outcomes = await Self.runCopies(shared, copies: copies)
        #expect(outcomes.count == 1, "one report per batch, from the last copy")
        #expect(outcomes.first?.failure == nil)
        #expect(outcomes.first?.completedCount == shape.count)
        #expect(runs.load(ordering: .relaxed) == shape.count)
        let values = shared.results.moveOut(0..<shape.count)
        #expect(values.map(\.value) == (0..<shape.count).map { $0 * 10 })
        #expect(alive.now == shape.count)
    }

    @Test("with a progress display, completed chunks are counted as they end; without one, nothing is")
    func completedChunksAreCounted() async {
        let alive = Alive()
        for counts in [true, false] {
            let progress = BatchProgress()
            let seenMidway = Atomic<Int>(-1)
            // While task 600 runs, the chunks before it (tasks 0..<600, in chunks of 3) have ended.
            let shared = Self.batch(
                count: 900, claimSize: 3, copies: 1, alive: alive, progress: progress,
                countsCompletedTasks: counts,
                ran: { if $0 == 600 { seenMidway.store(progress.completedTasks, ordering: .relaxed) } })
            _ = await Self.runCopies(shared, copies: 1)
            #expect(seenMidway.load(ordering: .relaxed) == (counts ? 600 : 0))
            #expect(progress.completedTasks == (counts ? 900 : 0))
            _ = shared.results.moveOut(0..<900)
        }
        #expect(alive.now == 0)
    }

    @Test("a task's failure is reported at its index; the other claimers stop; nothing leaks")
    func failureIsReportedAtItsTask() async {
        let alive = Alive()
        do {
            let shared = Self.batch(count: 2_000, claimSize: 3, copies: 2, alive: alive, fails: { $0 == 700 })
            let outcomes = await Self.runCopies(shared, copies: 2)
            #expect(outcomes.count == 1)
            #expect(outcomes.first?.failure as? Boom == Boom(index: 700))
            #expect(outcomes.first?.completedCount == 700, "the failure is attributed to task 700")
            #expect(outcomes.first?.isFailureAttributed == true)
            #expect(shared.results.publishedCount == 0, "a failed batch publishes nothing")
            #expect(alive.now == 0, "every output written was destroyed: \(alive.now) alive")
        }
        #expect(alive.now == 0, "destroyed once: \(alive.now) alive (negative: destroyed twice)")
    }

    @Test("a copy the backend could not run fails the batch with the backend's error")
    func backendFailureOfACopyFailsTheBatch() async {
        let alive = Alive()
        struct Refused: Error {}
        do {
            let shared = Self.batch(count: 100, claimSize: 1, copies: 2, alive: alive)
            // The backend refuses the first copy (say, no thread): the second still runs.
            #expect(shared.runEnded(BatchOutcome(failure: Refused(), isFailureAttributed: false)) == nil)
            await shared.runClaims()
            let outcome = shared.runEnded(BatchOutcome(publishedCount: 0, failure: nil))
            #expect(outcome?.failure is Refused)
            #expect(outcome?.isFailureAttributed == false)
            #expect(outcome?.completedCount == 0)
        }
        #expect(alive.now == 0, "\(alive.now) alive")
    }

    @Test("stopped by the engine between chunks: a CancellationError, and what ran is destroyed")
    func stopBetweenChunks() async {
        let alive = Alive()
        let progress = BatchProgress()
        do {
            // The stop is asked for while task 40 runs: the claimer stops before its next task.
            let shared = Self.batch(
                count: 1_000, claimSize: 1, copies: 1, alive: alive, progress: progress,
                ran: { if $0 == 40 { progress.requestAbort() } })
            await shared.runClaims()
            let outcome = shared.runEnded(BatchOutcome(publishedCount: 0, failure: nil))
            #expect(outcome?.failure is CancellationError)
            #expect(alive.now == 0, "\(alive.now) alive")
        }
        #expect(alive.now == 0, "\(alive.now) alive")
    }

    @Test("dropped before every copy ended (an aborted call): completed chunks are destroyed once")
    func droppedBeforeTheEnd() async {
        let alive = Alive()
        let progress = BatchProgress()
        do {
            let shared = Self.batch(
                count: 500, claimSize: 4, copies: 3, alive: alive, progress: progress,
                ran: { if $0 == 201 { progress.requestAbort() } })
            await shared.runClaims()
            // Chunks 0..<50 completed; chunk 50 (tasks 200..<204) was undone by its claimer. Two
            // copies never run and never end: the call that owned them was aborted.
            #expect(alive.now == 200)
        }
        #expect(alive.now == 0, "\(alive.now) alive (negative: destroyed twice)")
    }

    // MARK: Which calls share their batches

    final class InProcess: ParallelBackend {
        func startCall(_ context: BackendCallContext) async throws -> any BackendCall {
            fatalError("not started in this test")
        }
    }

    final class OutOfProcess: ParallelBackend {
        var capabilities: BackendCapabilities { BackendCapabilities(usesThreads: false, runsOutOfProcess: true) }
        func startCall(_ context: BackendCallContext) async throws -> any BackendCall {
            fatalError("not started in this test")
        }
    }

    /// The claim size the driver picks for a call shaped by `change` (default: a throwing list
    /// call over an Array, two workers, batchSize 1, on a backend that shares batches).
    static func claimSize(
        array: Bool = true, delivery: CallStateMachine<Int>.Delivery = .list, keepsGoing: Bool = false,
        maxFailures: Int? = nil, sharesBatches: Bool = true,
        _ change: (inout CallPlan) -> Void = { _ in }
    ) -> Int? {
        var plan = CallPlan(
            backend: InProcess(), nJobs: 2, nJobsLabel: 2, verbose: 0, timeout: nil, preDispatch: 4,
            batchSize: .fixed(1), context: BackendCallContext(nJobs: 2), taskScope: ScopeValues())
        change(&plan)
        let source = array ? TaskSource([1, 2, 3]) : TaskSource((1...3).lazy.map { $0 })
        return ParallelCall<Int, Int>.sharedClaimSize(
            plan: plan, source: source, delivery: delivery, keepsGoing: keepsGoing, maxFailures: maxFailures,
            backendSharesBatches: sharesBatches)
    }

    @Test("a throwing list call over an Array with a small fixed batch size shares its batches")
    func sharedWhereNothingCanTell() {
        #expect(Self.claimSize() == 1)
        #expect(Self.claimSize { $0.batchSize = .fixed(63) } == 63)
        #expect(
            Self.claimSize {
                $0.nJobs = 8; $0.preDispatch = 16
            } == 1, "nJobs 8, the default window 2*n_jobs")
        #expect(ParallelCall<Int, Int>.claimsPerSharedBatch(claimSize: 1) == 256)
        #expect(ParallelCall<Int, Int>.claimsPerSharedBatch(claimSize: 63) == 4)
    }

    @Test("anything that can tell batches apart keeps a batch per worker")
    func notSharedWhereItShows() {
        #expect(Self.claimSize(sharesBatches: false) == nil, "a backend that does not run copies at once")
        #expect(Self.claimSize(array: false) == nil, "a lazy input: joblib's window is what is taken")
        #expect(Self.claimSize(delivery: .ordered) == nil, "a generator sees results per batch")
        #expect(Self.claimSize(delivery: .unordered) == nil)
        #expect(Self.claimSize(keepsGoing: true) == nil, "results mode: fates per task")
        #expect(Self.claimSize(maxFailures: 3) == nil)
        #expect(Self.claimSize { $0.batchSize = .auto } == nil)
        #expect(Self.claimSize { $0.batchSize = .fixed(64) } == nil, "large batches gain nothing")
        #expect(Self.claimSize { $0.verbose = 10 } == nil, "verbose lines count batches")
        #expect(Self.claimSize { $0.timeout = .seconds(5) } == nil, "a timeout watches each batch")
        #expect(Self.claimSize { $0.retry = .attempts(2) } == nil, "a retry re-runs a batch")
        #expect(Self.claimSize { $0.nJobs = 1 } == nil)
        #expect(Self.claimSize { $0.preDispatch = nil } == nil)
        #expect(Self.claimSize { $0.preDispatch = 1 } == nil, "a window below nJobs runs fewer at once")
        #expect(Self.claimSize { $0.preDispatch = 2 } == 1, "a window of nJobs does not")
        #expect(Self.claimSize { $0.backend = OutOfProcess() } == nil)
    }
}
