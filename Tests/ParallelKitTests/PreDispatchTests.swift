import ParallelKit
import Testing

/// `preDispatch` ("all", an Int, "K*n_jobs") and lazy consumption of the input on the
/// caller's isolation. joblib's producer example must show the same interleaving.
@Suite("Pre-dispatch: how much input is taken before results come in")
struct PreDispatchTests {
    /// Runs calls on its own isolation, so a test can wait until the engine is idle (suspended,
    /// waiting for completions): a call to ``settle()`` runs only once the actor is free.
    actor Caller {
        func run<T: Sendable>(_ parallel: Parallel, _ input: CountingSequence<Delayed<T>>) async throws -> [T] {
            try await parallel(input)
        }

        /// Returns once the engine, which runs on this actor, has suspended.
        func settle() {}
    }

    struct WindowCase: Sendable, CustomTestStringConvertible {
        var preDispatch: PreDispatch
        var expectedTaken: Int
        var testDescription: String { "preDispatch \(preDispatch) → \(expectedTaken) taken" }
    }

    /// joblib's observed consumption with nJobs 2, batchSize 1, 20 inputs.
    @Test(
        "with nJobs 2 and batchSize 1, exactly the window is taken before any result is in",
        arguments: [
            WindowCase(preDispatch: 3, expectedTaken: 3),
            WindowCase(preDispatch: "2*n_jobs", expectedTaken: 4),
            WindowCase(preDispatch: "1.5*n_jobs", expectedTaken: 3),
            WindowCase(preDispatch: "n_jobs", expectedTaken: 2),
            WindowCase(preDispatch: .all, expectedTaken: 20),
        ])
    func windowBeforeFirstResult(_ window: WindowCase) async throws {
        let gate = Gate()
        let started = EventCounter()
        let input = CountingSequence(count: 20) { i in
            Delayed { () async -> Int in
                started.increment()
                await gate.wait()
                return i
            }
        }
        let caller = Caller()
        let parallel = Parallel(nJobs: 2, preDispatch: window.preDispatch, batchSize: 1)
        let call = Task { try await caller.run(parallel, input) }
        // Both workers hold a blocked task, so no result can come in; then let the engine finish
        // whatever it does before it waits.
        #expect(await started.wait(until: 2))
        await caller.settle()
        #expect(input.pulls.value == window.expectedTaken)
        #expect(started.value == 2)
        gate.open()
        #expect(try await call.value == Array(0..<20))
        #expect(input.pulls.value == 20)
    }

    /// joblib's test_dispatch_multiprocessing: nJobs 2, batchSize 1, preDispatch 3, 6 inputs.
    @Test("the producer example interleaves as joblib's: 'Produced 3' only after a 'Consumed'")
    func producerExample() async throws {
        let log = EventLog()
        let input = CountingSequence(count: 6, log: log) { i in
            Delayed { () -> Int in
                log.append("Consumed \(i)")
                return i
            }
        }
        let results = try await Parallel(nJobs: 2, preDispatch: 3, batchSize: 1)(input)
        #expect(results == Array(0..<6))
        let entries = log.snapshot
        #expect(entries.count == 12)
        #expect(entries.first == "Produced 0")
        let firstConsumed = try #require(entries.firstIndex { $0.hasPrefix("Consumed") })
        #expect(firstConsumed < 4, "\(entries)")
        let produced3 = try #require(entries.firstIndex(of: "Produced 3"))
        #expect(produced3 > firstConsumed, "\(entries)")
        #expect(entries.prefix(produced3).filter { $0.hasPrefix("Produced") }.count == 3)
    }

    /// joblib's test_dispatch_one_job: nJobs 1 with a 6-item producer.
    @Test("nJobs 1, batchSize 1: produce and consume strictly alternate")
    func sequentialInterleaving() async throws {
        let log = EventLog()
        let input = CountingSequence(count: 6, log: log) { i in
            Delayed { () -> Int in
                log.append("Consumed \(i)")
                return i
            }
        }
        _ = try await Parallel(nJobs: 1, batchSize: 1)(input)
        #expect(log.snapshot == (0..<6).flatMap { ["Produced \($0)", "Consumed \($0)"] })
    }

    @Test("nJobs 1, batchSize .auto: produce and consume strictly alternate")
    func sequentialInterleavingAuto() async throws {
        let log = EventLog()
        let input = CountingSequence(count: 6, log: log) { i in
            Delayed { () -> Int in
                log.append("Consumed \(i)")
                return i
            }
        }
        _ = try await Parallel(nJobs: 1)(input)
        #expect(log.snapshot == (0..<6).flatMap { ["Produced \($0)", "Consumed \($0)"] })
    }

    @Test("nJobs 1, batchSize 4: four inputs are produced before any is consumed")
    func sequentialFixedBatch() async throws {
        let log = EventLog()
        let input = CountingSequence(count: 6, log: log) { i in
            Delayed { () -> Int in
                log.append("Consumed \(i)")
                return i
            }
        }
        _ = try await Parallel(nJobs: 1, batchSize: 4)(input)
        let expected =
            (0..<4).map { "Produced \($0)" } + (0..<4).map { "Consumed \($0)" }
            + (4..<6).map { "Produced \($0)" } + (4..<6).map { "Consumed \($0)" }
        #expect(log.snapshot == expected)
    }

    @Test("a generator takes its window at the first next(), not before")
    func generatorWindow() async throws {
        let input = CountingSequence(count: 20) { i in delayed { i }() }
        var iterator = Parallel(nJobs: 2, preDispatch: 3, batchSize: 1).generator(input).makeAsyncIterator()
        #expect(input.pulls.value == 0)
        #expect(try await iterator.next() == 0)
        #expect(input.pulls.value >= 3)
        var rest: [Int] = []
        while let value = try await iterator.next() { rest.append(value) }
        #expect(rest == Array(1..<20))
    }

    @Test(
        "test_exception_dispatch: with preDispatch 16 an error at task 7 of 30 is raised",
        arguments: [PreDispatch.tasks(16), "all"])
    func exceptionDispatch(preDispatch: PreDispatch) async throws {
        let tasks = (0..<30).map { i in
            Delayed { () throws -> Int in
                if i == 7 { throw TestError(index: 7) }
                return i
            }
        }
        await #expect(throws: TestError(index: 7)) {
            try await Parallel(nJobs: 2, preDispatch: preDispatch)(tasks)
        }
    }

    @Test("an input iterator that stops early is handled like any end of input", arguments: [0, 5, 19])
    func shortIterator(length: Int) async throws {
        let input = CountingSequence(count: length) { i in delayed { i }() }
        #expect(try await Parallel(nJobs: 2, preDispatch: 4)(input) == Array(0..<length))
    }
}
