import Foundation
import ParallelKit
import Synchronization
import Testing

@testable import ParallelThreading

/// Issue 9: an idle pool thread polls for the next executor job before it parks, so the next
/// batch or call starts without a futex wake-up; a job is never lost whether a poller takes it or
/// the poller has parked.
@Suite("Worker threads poll before they park")
struct PollingThreadTests {
    /// Runs `body` as a task that prefers `pool` and waits for it.
    static func run(on pool: WorkerThreadPool, _ body: @escaping @Sendable () -> Int) async -> Int {
        await Task(executorPreference: pool) { body() }.value
    }

    @Test("a job enqueued while a thread polls runs on that thread with no wake-up")
    func pollerTakesTheJob() async throws {
        // A window far longer than the test, so the second job surely arrives while the thread polls.
        let pool = WorkerThreadPool(name: "pk-test-poll", idleSeconds: 1, pollNanoseconds: 30_000_000_000)
        defer { pool.stopPolling() }
        let first = await Self.run(on: pool) { Int(pthread_self()) }
        let polling = await eventually(within: .seconds(10)) { pool.pollingThreads == 1 }
        #expect(polling, "the thread polls after its job (\(pool.pollingThreads))")
        let wakeUps = pool.wakeUps
        let second = await Self.run(on: pool) { Int(pthread_self()) }
        #expect(second == first, "the polling thread ran the job")
        #expect(pool.wakeUps == wakeUps, "no thread was signalled or started for it")
        #expect(pool.liveThreads == 1)
        pool.stopPolling()
        let parked = await eventually(within: .seconds(10)) { pool.pollingThreads == 0 }
        #expect(parked, "stopPolling ends the window")
    }

    @Test("after its window a thread parks, and a later job wakes it")
    func parkedThreadIsWoken() async throws {
        // An idle timeout far beyond the test: a loaded machine once took 12.9 s to get here and
        // the thread had idled out (5 s then), so the second job started a new thread.
        let pool = WorkerThreadPool(name: "pk-test-park", idleSeconds: 60, pollNanoseconds: 1_000_000)
        #expect(await Self.run(on: pool) { 1 } == 1)
        let parked = await eventually(within: .seconds(10)) { pool.pollingThreads == 0 }
        #expect(parked)
        let wakeUps = pool.wakeUps
        #expect(await Self.run(on: pool) { 2 } == 2)
        #expect(pool.wakeUps == wakeUps + 1, "the parked thread was signalled")
        #expect(pool.liveThreads == 1)
    }

    @Test("with polling threads, 2,000 back-to-back 2-task calls and 200 concurrent ones all return right")
    func backToBackCalls() async throws {
        let parallel = Parallel(nJobs: 2)
        for i in 0..<2000 {
            let results = try await parallel([delayed { i }(), delayed { i + 1 }()])
            #expect(results == [i, i + 1])
        }
        try await withThrowingTaskGroup(of: Bool.self) { group in
            for i in 0..<200 {
                group.addTask { try await parallel((0..<5).map { j in delayed { i * j }() }) == (0..<5).map { i * $0 } }
            }
            for try await right in group { #expect(right) }
        }
    }
}
