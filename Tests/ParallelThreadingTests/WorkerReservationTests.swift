import Foundation
@_spi(Locking) import ParallelCore
import Testing

@testable import ParallelThreading

/// A worker of a threading call holds a reservation on the pool's threads while it runs, and
/// gives it back *before* it reports its last batch: the engine ends a call on its last
/// completion, so a call that returns holds no reservation, and the next call (started from that
/// completion at the earliest) reuses the previous call's threads instead of starting more. Before,
/// a worker gave its thread back only after its last completion returned, so back-to-back calls
/// briefly counted both calls' workers, started a thread beyond them, and on a pool at a thread
/// limit the second call failed with a refused thread.
@Suite("Worker reservations end with the worker's last batch")
struct WorkerReservationTests {
    /// A batch of one task that returns `index`, after `before` (which may block its thread).
    static func batch(_ index: Int, before: @escaping @Sendable () -> Void = {}) -> TaskBatch {
        TaskBatch(
            firstIndex: index, count: 1, progress: BatchProgress(), portable: nil, tracksEachTask: false,
            scope: ScopeValues(),
            runner: { _, _ in
                before()
                return BatchOutcome(publishedCount: 1, failure: nil)
            })
    }

    @Test("a worker's reservation is released before its last completion is called")
    func releasedBeforeTheLastCompletion() async {
        let pool = WorkerThreadPool(name: "pk-test-resv", idleSeconds: 60)
        let call = ThreadingCall(pool: pool, nJobs: 1)
        let reservedAtCompletion = await withCheckedContinuation { (continuation: CheckedContinuation<Int, Never>) in
            call.submit(Self.batch(0)) { _ in continuation.resume(returning: pool.reservedWorkers) }
        }
        #expect(reservedAtCompletion == 0, "the retiring worker still held its thread when it reported")
    }

    @Test("a call submitted from the previous call's last completion reuses its threads at the limit")
    func backToBackCallsAtTheThreadLimit() async {
        // Three threads exist (the first call's three batches meet at a barrier); a fourth is refused.
        let pool = WorkerThreadPool(name: "pk-test-b2b", idleSeconds: 60, threadLimitForTesting: 3)
        let first = ThreadingCall(pool: pool, nJobs: 3)
        let second = ThreadingCall(pool: pool, nJobs: 3)
        let barrier = BlockingBarrier(parties: 3)
        let met = LockedValue(0)
        let completed = LockedValue(0)
        let (outcomes, sink) = AsyncStream<String?>.makeStream()
        let secondBatches = (0..<3).map { i in
            BatchSubmission(batch: Self.batch(i)) { outcome in
                sink.yield(outcome.failure.map { "\($0)" })
            }
        }
        let firstBatches = (0..<3).map { i in
            BatchSubmission(batch: Self.batch(i, before: { if barrier.arriveAndWait() { met.withLock { $0 += 1 } } })) {
                _ in
                // The engine starts the next call no earlier than the first call's last completion.
                let isLast = completed.withLock { count in
                    count += 1
                    return count == 3
                }
                if isLast { second.submit(secondBatches) }
            }
        }
        first.submit(firstBatches)
        var failures: [String] = []
        var received = 0
        for await failure in outcomes {
            if let failure { failures.append(failure) }
            received += 1
            if received == 3 { break }
        }
        #expect(met.withLock { $0 } == 3, "the first call's batches ran on three threads at once")
        #expect(failures.isEmpty, "the second call was refused a thread: \(failures)")
        #expect(pool.liveThreads == 3)
        let settled = await eventually(within: .seconds(10)) { pool.reservedWorkers == 0 }
        #expect(settled, "reserved workers: \(pool.reservedWorkers)")
    }
}
