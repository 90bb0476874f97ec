import Foundation
import ParallelKit
import Synchronization
import Testing

/// Calls whose batches are shared by the workers (a throwing list call over an Array on the
/// threading backend with a batch size below 64) return what any other call returns, stop at
/// the first failure, and never leak or double-free a result.
@Suite("Shared batches: batchSize below 64 on threads")
struct SharedBatchCallTests {
    @Test(
        "results come back in input order for every small batch size",
        arguments: [1, 2, 7, 63, 64], [1, 5, 257, 10_000])
    func resultsInOrder(batchSize: Int, count: Int) async throws {
        for nJobs in [2, 3] {
            let tasks = (0..<count).map { i in delayed { i &* 3 }() }
            let results = try await Parallel(nJobs: nJobs, batchSize: .fixed(batchSize))(tasks)
            #expect(results == (0..<count).map { $0 &* 3 }, "nJobs \(nJobs)")
        }
    }

    @Test("every task runs exactly once")
    func everyTaskOnce() async throws {
        let hits = HitBox(count: 20_000)
        let tasks = (0..<20_000).map { i in delayed { hits.hit(i) }() }
        _ = try await Parallel(nJobs: 2, batchSize: 1)(tasks)
        #expect(hits.counts == Array(repeating: 1, count: 20_000))
    }

    @Test("a task's error is rethrown as itself; every result written is destroyed exactly once")
    func errorFreesWrittenResults() async throws {
        let live = LiveCount()
        let tasks = (0..<20_000).map { i in
            delayed { () throws -> Tracked in
                if i == 7_000 { throw TestError(index: 7_000) }
                return Tracked(i, live)
            }()
        }
        await #expect(throws: TestError(index: 7_000)) {
            _ = try await Parallel(nJobs: 2, batchSize: 1)(tasks)
        }
        #expect(live.made > 0, "some results were written before the error")
        // A batch still running when the call threw drops its results when it ends.
        await live.waitUntilNoneAlive()
        #expect(live.alive == 0, "\(live.alive) results leaked (negative: destroyed twice)")
    }

    @Test("cancelling the calling task stops the tasks and destroys what was written")
    func cancellation() async throws {
        let live = LiveCount()
        let started = EventCounter()
        let total = 100_000
        let tasks = (0..<total).map { i in
            delayed { () -> Tracked in
                started.increment()
                usleep(50)  // the task's work; the test waits on `started`, not on time
                return Tracked(i, live)
            }()
        }
        let call = Task { try await Parallel(nJobs: 2, batchSize: 1)(tasks) }
        #expect(await started.wait(until: 20))
        call.cancel()
        let outcome = await call.result
        #expect(throws: CancellationError.self) { _ = try outcome.get() }
        #expect(live.made < total, "the call stopped before running every task")
        await live.waitUntilNoneAlive()
        #expect(live.alive == 0, "\(live.alive) results leaked (negative: destroyed twice)")
    }

    @Test("tasks see joblib's nesting rule on every claimer: threading with one job one level down")
    func nestingRuleOnEveryClaimer() async throws {
        let tasks = (0..<2_000).map { _ in
            delayed { () throws -> String in
                let config = ParallelConfig.current
                return "\(config.backend?.description ?? "nil") \(config.nestingLevel) \(try effectiveNJobs(nil))"
            }()
        }
        let seen = try await Parallel(nJobs: 2, batchSize: 1)(tasks)
        #expect(Set(seen) == ["threading 1 1"])
    }

    @Test("a progress display counts tasks inside a running shared batch, and every task once at the end")
    func progressCountsInsideASharedBatch() async throws {
        let completedSeen = Atomic<Int>(0)
        let finalCount = Atomic<Int>(-1)
        let released = Gate(safety: .seconds(20))
        let handler = ParallelProgress.handler { event in
            switch event {
            case .progressed(let snapshot):
                completedSeen.max(snapshot.completed, ordering: .relaxed)
                if snapshot.completed >= 100 { released.open() }
            case .finished(let snapshot):
                finalCount.store(snapshot.completed, ordering: .relaxed)
            default:
                break
            }
        }
        // 600 tasks at batchSize 1: after joblib's window (tasks 0..<4), shared batches of 256
        // tasks (4..<260, 260..<516), then the tail. Tasks from 200 on wait until the handler has
        // seen 100 completed: the only batches that can end before that hold 4 tasks, so the
        // count can only get there from inside the running batch 4..<260.
        let tasks = (0..<600).map { i in
            Delayed { () async -> Bool in
                guard i >= 200 else { return true }
                await released.wait()
                return completedSeen.load(ordering: .relaxed) >= 100
            }
        }
        let results = try await Parallel(nJobs: 2, batchSize: 1, progress: handler)(tasks)
        #expect(results.allSatisfy { $0 }, "the held tasks were released by per-task counts, not by the safety timer")
        #expect(finalCount.load(ordering: .relaxed) == 600)
    }
}
