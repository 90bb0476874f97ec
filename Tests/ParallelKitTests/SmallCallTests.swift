import Dispatch
@_spi(Locking) import ParallelCore
import Synchronization
import Testing

@testable import ParallelKit

/// A small call — up to 64 synchronous `Delayed` tasks in an `Array`, on the threading backend
/// with no timeout, verbose output, retry policy or progress display — runs on the index loop
/// `map` uses. Whatever path it takes, it returns what the engine returns, throws the same error,
/// destroys what it computed when it throws, and applies the nesting rule.
@Suite("Small calls of synchronous tasks")
struct SmallCallTests {
    struct Boom: Error, Equatable { var index: Int }

    @Test("which calls are small: 1 to 64 synchronous tasks in contiguous storage, nothing else")
    func whichCallsAreSmall() {
        let sync = { (n: Int) in (0..<n).map { i in Delayed { () throws -> Int in i } } }
        #expect(Parallel.smallSynchronousCall(sync(0)) == nil, "no task: the engine's empty call")
        #expect(Parallel.smallSynchronousCall(sync(1))?.count == 1)
        #expect(Parallel.smallSynchronousCall(sync(64))?.count == 64)
        #expect(Parallel.smallSynchronousCall(sync(65)) == nil)
        #expect(Parallel.smallSynchronousCall(sync(10)[2...])?.count == 8, "an ArraySlice is contiguous")
        #expect(Parallel.smallSynchronousCall(sync(10).lazy.map { $0 }) == nil, "a lazy sequence is taken lazily")
        var mixed = sync(10)
        mixed[9] = Delayed { () async throws -> Int in 9 }
        #expect(Parallel.smallSynchronousCall(mixed) == nil, "an async task needs the engine")
        let bodies = Parallel.smallSynchronousCall(sync(5)) ?? []
        #expect(bodies.compactMap { try? $0() } == [0, 1, 2, 3, 4], "the bodies in order")
    }

    @Test(
        "results in submission order, every task once, at the limit and past it",
        arguments: [1, 2, 7, 64, 65], [1, 2, 3])
    func resultsInOrder(count: Int, nJobs: Int) async throws {
        let runs = Atomic<Int>(0)
        let tasks = (0..<count).map { i in
            Delayed { () throws -> Int in
                runs.add(1, ordering: .relaxed)
                return i * i
            }
        }
        #expect(try await Parallel(nJobs: nJobs)(tasks) == (0..<count).map { $0 * $0 })
        #expect(runs.load(ordering: .relaxed) == count)
        // A slice is contiguous too.
        #expect(try await Parallel(nJobs: nJobs)(tasks[1...]) == (1..<count).map { $0 * $0 })
    }

    @Test(
        "a task's error is thrown as itself and every output already made is destroyed",
        arguments: [0, 5, 31], [1, 2])
    func errorDestroysOutputs(failing: Int, nJobs: Int) async throws {
        let live = LiveCount()
        let tasks = (0..<32).map { i in
            Delayed { () throws -> Tracked in
                if i == failing { throw Boom(index: i) }
                return Tracked(i, live)
            }
        }
        await #expect(throws: Boom(index: failing)) { _ = try await Parallel(nJobs: nJobs)(tasks) }
        #expect(live.alive == 0)
    }

    @Test("cancelling a small call throws CancellationError; no task starts after the running ones")
    func cancellation() async throws {
        let started = EventCounter()
        let release = DispatchSemaphore(value: 0)
        let tasks = (0..<10).map { i in
            Delayed { () throws -> Int in
                started.increment()
                release.wait()
                return i
            }
        }
        let call = Task { try await Parallel(nJobs: 2)(tasks) }
        #expect(await started.wait(until: 2))
        // Both workers are inside a task, so the call is waiting inside its cancellation handler:
        // `cancel()` stops the loop before it returns.
        call.cancel()
        release.signal()
        release.signal()
        let result = await call.result
        #expect(throws: CancellationError.self) { try result.get() }
        #expect(started.value == 2, "\(started.value) tasks started")
    }

    @Test("an asynchronous task among them: the engine runs the call, with the same results")
    func asynchronousTaskTakesTheEngine() async throws {
        var tasks = (0..<10).map { i in Delayed { () throws -> Int in i } }
        tasks[4] = Delayed { () async throws -> Int in
            await Task.yield()
            return 4
        }
        #expect(try await Parallel(nJobs: 2)(tasks) == Array(0..<10))
    }

    @Test("a small call's tasks see joblib's nesting rule: level 1, and 1 job for a nested call")
    func nestingRule() async throws {
        let observed = try await Parallel(nJobs: 2)(
            (0..<4).map { _ in
                Delayed { () throws -> (Int, Int) in (ParallelConfig.current.nestingLevel, try effectiveNJobs(nil)) }
            })
        #expect(observed.count == 4)
        #expect(observed.allSatisfy { $0.0 == 1 && $0.1 == 1 }, "\(observed)")
    }
}
