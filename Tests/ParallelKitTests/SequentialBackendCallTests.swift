@_spi(Locking) import ParallelCore
import ParallelKit
import Testing

/// Records which batches ran and how many completions arrived.
final class RunLog: Sendable {
    let ran = LockedValue<[Int]>([])
    let completions = LockedValue(0)
}

@Suite("The sequential backend's own call (for backends that wrap it)")
struct SequentialBackendCallTests {
    /// A batch of one task that waits until `gate` opens, recording that it ran.
    static func batch(_ index: Int, log: RunLog, gate: AsyncStream<Void>? = nil) -> TaskBatch {
        TaskBatch(
            firstIndex: index, count: 1, progress: BatchProgress(), portable: nil, tracksEachTask: false,
            scope: ScopeValues(),
            runner: { _, _ in
                if let gate { for await _ in gate { break } }
                log.ran.withLock { $0.append(index) }
                return BatchOutcome(values: [index], failure: nil)
            })
    }

    @Test func batchesRunOneAfterAnotherInOrder() async throws {
        let call = try await SequentialBackend().startCall(BackendCallContext(nJobs: 2))
        let log = RunLog()
        let outcomes = AsyncStream<Int>.makeStream()
        for i in 0..<5 {
            call.submit(Self.batch(i, log: log)) { outcome in outcomes.continuation.yield(outcome.completedCount) }
        }
        var completed = 0
        for await _ in outcomes.stream {
            completed += 1
            if completed == 5 { break }
        }
        #expect(log.ran.withLock { $0 } == [0, 1, 2, 3, 4])
    }

    @Test func abortReachesQueuedBatches() async throws {
        let call = try await SequentialBackend().startCall(BackendCallContext(nJobs: 2))
        let log = RunLog()
        let gate = AsyncStream<Void>.makeStream()
        call.submit(Self.batch(0, log: log, gate: gate.stream)) { _ in log.completions.withLock { $0 += 1 } }
        for i in 1..<4 {
            call.submit(Self.batch(i, log: log)) { _ in log.completions.withLock { $0 += 1 } }
        }
        call.abort()
        gate.continuation.finish()  // release the first batch (its task is cancelled)
        // A batch submitted after abort is dropped too.
        call.submit(Self.batch(9, log: log)) { _ in log.completions.withLock { $0 += 1 } }
        // A negative check: whatever the timing, a correct call never runs a queued batch or
        // reports a completion after abort, so yielding here can only make a bug show, not hide one.
        for _ in 0..<50 { await Task.yield() }
        #expect(log.ran.withLock { $0 }.allSatisfy { $0 == 0 })
        #expect(log.completions.withLock { $0 } == 0)
    }
}
