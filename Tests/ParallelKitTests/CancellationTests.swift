import ParallelKit
import Testing

/// Cancelling the calling task stops everything and throws `CancellationError`: no more
/// inputs are taken, running tasks are cancelled.
@Suite("Cancellation of the calling task")
struct CancellationTests {
    @Test("cancelling a parallel call throws CancellationError, stops taking inputs and cancels running tasks")
    func cancelParallelCall() async throws {
        let gate = Gate()
        defer { gate.open() }
        let started = EventCounter()
        let cancelled = EventCounter()
        let input = CountingSequence(count: 10_000) { i in
            Delayed { () async -> Int in
                started.increment()
                if !(await gate.wait()) { cancelled.increment() }
                return i
            }
        }
        let call = Task { try await Parallel(nJobs: 2, batchSize: 1)(input) }
        #expect(await started.wait(until: 2))
        call.cancel()
        let result = await call.result
        #expect(throws: CancellationError.self) { try result.get() }
        #expect(await cancelled.wait(until: 2), "running tasks did not see the cancellation")
        #expect(input.pulls.value <= 4, "inputs were taken after cancellation")
        #expect(started.value == 2)
    }

    @Test("cancelling a sequential call (nJobs 1) throws CancellationError before the next task")
    func cancelSequentialCall() async throws {
        let gate = Gate()
        defer { gate.open() }
        let started = EventCounter()
        let input = CountingSequence(count: 1_000) { i in
            Delayed { () async -> Int in
                started.increment()
                await gate.wait()
                return i
            }
        }
        let call = Task { try await Parallel(nJobs: 1)(input) }
        #expect(await started.wait(until: 1))
        call.cancel()
        let result = await call.result
        #expect(throws: CancellationError.self) { try result.get() }
        #expect(started.value == 1)
        #expect(input.pulls.value == 1)
    }

    @Test("cancelling a sequential call over an array stops before the next task too")
    func cancelSequentialArray() async throws {
        let gate = Gate()
        defer { gate.open() }
        let started = EventCounter()
        let tasks = (0..<1_000).map { i in
            Delayed { () async -> Int in
                started.increment()
                await gate.wait()
                return i
            }
        }
        let call = Task { try await Parallel(nJobs: 1)(tasks).count }
        #expect(await started.wait(until: 1))
        call.cancel()
        let result = await call.result
        #expect(throws: CancellationError.self) { try result.get() }
        #expect(started.value == 1, "\(started.value) tasks ran after the call was cancelled")
    }

    @Test(
        "a call made from an already cancelled task runs nothing to completion and throws CancellationError",
        arguments: [1, 2])
    func alreadyCancelled(nJobs: Int) async throws {
        let gate = Gate()
        defer { gate.open() }
        let call = Task {
            await gate.wait()  // returns at once: the task is cancelled below before it is opened
            return try await Parallel(nJobs: nJobs)((0..<100).map { i in delayed { i }() })
        }
        call.cancel()
        let result = await call.result
        #expect(throws: CancellationError.self) { try result.get() }
    }

    @Test("cancellation inside a withParallelConfig scope also stops the call")
    func cancelInsideScope() async throws {
        let gate = Gate()
        defer { gate.open() }
        let started = EventCounter()
        let call = Task {
            try await withParallelConfig(nJobs: 2) {
                try await Parallel(batchSize: 1)(
                    (0..<100).map { i in
                        Delayed { () async -> Int in
                            started.increment()
                            await gate.wait()
                            return i
                        }
                    })
            }
        }
        #expect(await started.wait(until: 2))
        call.cancel()
        let result = await call.result
        #expect(throws: CancellationError.self) { try result.get() }
    }
}
