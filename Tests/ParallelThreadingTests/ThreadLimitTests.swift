import Foundation
import ParallelKit
import Testing

@testable import ParallelThreading

/// Red-team F2: a thread the system refuses is an error for the call that needed it; the pool's
/// counts stay right and later calls work (before the fix, one refused thread wedged every later
/// threading call for the rest of the process's life).
@Suite("Thread limits")
struct ThreadLimitTests {
    /// Blocks long enough that every lane of the call needs a thread of its own.
    static func slowTasks(_ count: Int) -> [Delayed<Int>] {
        (0..<count).map { i in
            delayed {
                usleep(50_000); return i
            }()
        }
    }

    @Test("a refused thread fails the call with the limit named; counts stay right; later calls work")
    func refusedThreadIsAnErrorAndThePoolRecovers() async throws {
        // This pool refuses a fourth live thread, as a system limit would; idle threads end after 1 s.
        let pool = WorkerThreadPool(name: "pk-test-limit", idleSeconds: 1, threadLimitForTesting: 3)
        let backend = ThreadingBackend(pool: pool)
        do {
            _ = try await Parallel(nJobs: 8, backend: .instance(backend), batchSize: 1)(Self.slowTasks(16))
            Issue.record("8 lanes ran on a pool limited to 3 threads")
        } catch let error as ParallelError {
            #expect(error.code == .workerCrashed)
            // A refused thread is the call's failure, not a task's: no task index.
            #expect(error.taskIndex == nil, "no task is blamed for a thread that never started")
            #expect(error.description.contains("could not start a thread"), "\(error)")
            #expect(error.description.contains("RLIMIT_NPROC") && error.description.contains("RLIMIT_AS"), "\(error)")
        }
        // Every lane gives its reservation back; no phantom thread is counted.
        let settled = await eventually(within: .seconds(10)) { pool.reservedWorkers == 0 }
        #expect(settled, "reserved lanes: \(pool.reservedWorkers)")
        #expect(pool.liveThreads <= 3)
        // Later calls work at once, and after the threads idled out (the wedge of F2). A call that
        // returned holds no reservation (its workers give theirs back before their last report),
        // so the back-to-back calls below never count more than 3 workers and start no 4th thread.
        #expect(try await Parallel(nJobs: 3, backend: .instance(backend))(Self.slowTasks(6)) == Array(0..<6))
        #expect(pool.reservedWorkers == 0)
        let idledOut = await eventually(within: .seconds(10)) { pool.liveThreads == 0 }
        #expect(idledOut, "live threads: \(pool.liveThreads)")
        #expect(try await Parallel(nJobs: 3, backend: .instance(backend))(Self.slowTasks(6)) == Array(0..<6))
        #expect(pool.reservedWorkers == 0)
        #expect(try await Parallel(nJobs: 2, backend: .instance(backend))(Self.slowTasks(4)) == Array(0..<4))
        #expect(pool.reservedWorkers == 0)
        #expect(pool.liveThreads <= 3)
    }

    @Test("the red team's wedge: many lanes, idle out, then a small call still returns")
    func bigCallThenIdleThenSmallCall() async throws {
        let pool = WorkerThreadPool(name: "pk-test-wedge", idleSeconds: 1, threadLimitForTesting: 40)
        let backend = ThreadingBackend(pool: pool)
        _ = try? await Parallel(nJobs: 100, backend: .instance(backend), batchSize: 1)(Self.slowTasks(100))
        let idledOut = await eventually(within: .seconds(10)) { pool.liveThreads == 0 && pool.reservedWorkers == 0 }
        #expect(idledOut, "live threads: \(pool.liveThreads), reserved: \(pool.reservedWorkers)")
        #expect(
            try await Parallel(nJobs: 2, backend: .instance(backend))((0..<10).map { i in delayed { i }() })
                == Array(0..<10))
    }
}

/// `map` and `forEach` on the threading backend's index loops: a refused thread is the call's
/// error there too, and a loop none of whose workers could start ends instead of waiting for them.
@Suite("Thread limits: map's index loops")
struct MapThreadLimitTests {
    /// A caller isolated to an actor: its `map` only waits for the workers (it does not join the
    /// loop), so a loop with every worker refused must end by itself.
    actor IsolatedCaller {
        func map(_ parallel: Parallel) async throws -> [Int] { try await parallel.map(0..<100) { $0 * 2 } }
        func forEach(_ parallel: Parallel) async throws { try await parallel.forEach(0..<100) { _ in } }
    }

    static func expectRefusal(_ body: () async throws -> Void) async {
        do {
            try await body()
            Issue.record("the call ran although its pool refused every thread")
        } catch let error as ParallelError {
            #expect(error.code == .workerCrashed)
            #expect(error.description.contains("could not start a thread"), "\(error)")
        } catch {
            Issue.record("unexpected error \(error)")
        }
    }

    @Test("from an actor, map and forEach on a pool that refuses every thread throw instead of waiting forever")
    func everyThreadRefusedFromAnActor() async throws {
        let pool = WorkerThreadPool(name: "pk-test-none", idleSeconds: 1, threadLimitForTesting: 0)
        let parallel = Parallel(nJobs: 2, backend: .instance(ThreadingBackend(pool: pool)))
        let caller = IsolatedCaller()
        await Self.expectRefusal { _ = try await caller.map(parallel) }
        await Self.expectRefusal { try await caller.forEach(parallel) }
        #expect(pool.reservedWorkers == 0)
    }

    @Test("a caller that joins the loop still fails the call when a worker's thread is refused")
    func refusedThreadFailsAJoinedLoop() async throws {
        let pool = WorkerThreadPool(name: "pk-test-one", idleSeconds: 1, threadLimitForTesting: 0)
        let parallel = Parallel(nJobs: 2, backend: .instance(ThreadingBackend(pool: pool)))
        await Self.expectRefusal { _ = try await parallel.map(0..<100) { $0 * 2 } }
        #expect(pool.reservedWorkers == 0)
    }
}

/// Polls `condition` until it holds or `timeout` passes.
func eventually(within timeout: Duration, _ condition: () -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if condition() { return true }
        try? await Task.sleep(for: .milliseconds(20))
    }
    return condition()
}
