import ParallelKit
import Testing

/// `generator` yields in submission order, each result as soon as it and those before it
/// are done; `generatorUnordered` yields in completion order. Nothing starts before the first
/// `next()`; a consumer that stops early or is cancelled stops the work; memory stays bounded
/// when the consumer is slower than the workers.
@Suite("Generators: ordered, unordered, early stop, bounded memory")
struct GeneratorTests {
    @Test(
        "generator preserves input order (test_parallel_return_order_with_return_as_generator_parameter)",
        arguments: [1, 2, 4])
    func orderedGenerator(nJobs: Int) async throws {
        var out: [Int] = []
        for try await value in Parallel(nJobs: nJobs).generator((0..<500).map { i in delayed { i * i }() }) {
            out.append(value)
        }
        #expect(out == (0..<500).map { $0 * $0 })
    }

    @Test("generator over ParallelJobs, both orders", arguments: [1, 2])
    func jobGenerators(nJobs: Int) async throws {
        var ordered: [Int] = []
        for try await value in Parallel(nJobs: nJobs).generator((0..<50).map { SquareJob(x: $0) }) {
            ordered.append(value)
        }
        #expect(ordered == (0..<50).map { $0 * $0 })
        var unordered: [Int] = []
        for try await value in Parallel(nJobs: nJobs).generatorUnordered((0..<50).map { SquareJob(x: $0) }) {
            unordered.append(value)
        }
        #expect(unordered.sorted() == (0..<50).map { $0 * $0 })
    }

    @Test("generator yields a result before later tasks are done, and still in order")
    func orderedStreams() async throws {
        let gate = Gate()
        let tasks = (0..<10).map { i in
            Delayed { () async -> Int in
                if i == 1 { await gate.wait() }
                return i
            }
        }
        var iterator = Parallel(nJobs: 2, batchSize: 1).generator(tasks).makeAsyncIterator()
        // Result 0 arrives while task 1 is still blocked: results stream, they are not collected first.
        #expect(try await iterator.next() == 0)
        #expect(!gate.isOpen)
        gate.open()
        var rest: [Int] = []
        while let value = try await iterator.next() { rest.append(value) }
        #expect(rest == Array(1..<10))
    }

    @Test(
        "generatorUnordered returns the fast results before a slow one (test_parallel_unordered_generator_returns_fastest_first)",
        arguments: [BatchSize.fixed(1), .auto])
    func unorderedFastestFirst(batchSize: BatchSize) async throws {
        let gate = Gate()
        let tasks = (0..<10).map { i in
            Delayed { () async -> Int in
                if i == 1 { await gate.wait() }
                return i
            }
        }
        var iterator = Parallel(nJobs: 2, batchSize: batchSize).generatorUnordered(tasks).makeAsyncIterator()
        var first: [Int] = []
        for _ in 0..<9 {
            if let value = try await iterator.next() { first.append(value) }
        }
        #expect(!gate.isOpen, "the slow task was still blocked when the nine others had come back")
        #expect(Set(first) == Set([0, 2, 3, 4, 5, 6, 7, 8, 9]))
        gate.open()
        #expect(try await iterator.next() == 1)
        #expect(try await iterator.next() == nil)
    }

    @Test("generatorUnordered with nJobs 1 is naturally in order")
    func unorderedSequential() async throws {
        var out: [Int] = []
        for try await value in Parallel(nJobs: 1).generatorUnordered((0..<20).map { i in delayed { i }() }) {
            out.append(value)
        }
        #expect(out == Array(0..<20))
    }

    @Test("nothing is taken or run before the first next()", arguments: [1, 2])
    func lazyStart(nJobs: Int) async throws {
        let ran = EventCounter()
        let input = CountingSequence(count: 100) { i in
            Delayed { () -> Int in
                ran.increment(); return i
            }
        }
        let results = Parallel(nJobs: nJobs).generator(input)
        let unordered = Parallel(nJobs: nJobs).generatorUnordered(input)
        _ = (results, unordered)
        #expect(input.pulls.value == 0)
        #expect(ran.value == 0)
    }

    @Test(
        "breaking out early stops taking inputs: far fewer than the input size are taken",
        arguments: [BatchSize.fixed(1), .auto])
    func earlyBreak(batchSize: BatchSize) async throws {
        let started = EventCounter()
        let input = CountingSequence(count: 1_000_000) { i in
            Delayed { () -> Int in
                started.increment(); return i
            }
        }
        var seen: [Int] = []
        for try await value in Parallel(nJobs: 2, batchSize: batchSize).generator(input) {
            seen.append(value)
            if seen.count == 10 { break }
        }
        #expect(seen == Array(0..<10))
        let pulled = input.pulls.value
        #expect(pulled < 100_000, "pulled \(pulled) of 1,000,000")
        #expect(started.value <= pulled)
    }

    @Test("dropping a generator after one result cancels its running tasks")
    func dropCancelsRunningTasks() async throws {
        let gate = Gate()
        let cancelled = EventCounter()
        let started = EventCounter()
        let tasks = (0..<100).map { i in
            Delayed { () async -> Int in
                if i == 0 { return 0 }
                started.increment()
                if !(await gate.wait()) { cancelled.increment() }
                return i
            }
        }
        do {
            var iterator = Parallel(nJobs: 2, batchSize: 1).generator(tasks).makeAsyncIterator()
            #expect(try await iterator.next() == 0)
            #expect(await started.wait(until: 1))
        }
        // The iterator is gone: its blocked task must have been cancelled, not left waiting.
        #expect(await cancelled.wait(until: 1), "a blocked task was not cancelled after the consumer went away")
        #expect(started.value < 10)
        gate.open()
    }

    @Test("cancelling the consuming task throws CancellationError and stops the work")
    func cancelConsumer() async throws {
        let gate = Gate()
        let started = EventCounter()
        let cancelled = EventCounter()
        let input = CountingSequence(count: 10_000) { i in
            Delayed { () async -> Int in
                started.increment()
                if !(await gate.wait()) { cancelled.increment() }
                return i
            }
        }
        let consumer = Task { () async throws -> Int in
            var count = 0
            for try await _ in Parallel(nJobs: 2, batchSize: 1).generatorUnordered(input) { count += 1 }
            return count
        }
        #expect(await started.wait(until: 2))
        consumer.cancel()
        let result = await consumer.result
        #expect(throws: CancellationError.self) { try result.get() }
        #expect(await cancelled.wait(until: 2), "running tasks were not cancelled")
        #expect(input.pulls.value < 100)
        gate.open()
    }

    @Test("a slow consumer keeps memory bounded: inputs taken stay close to results consumed")
    func backpressure() async throws {
        let input = CountingSequence(count: 5_000) { i in delayed { i }() }
        var consumed = 0
        var worstLead = 0
        var outOfOrder = 0
        for try await value in Parallel(nJobs: 2, batchSize: 1).generator(input) {
            if value != consumed { outOfOrder += 1 }
            consumed += 1
            worstLead = max(worstLead, input.pulls.value - consumed)
            if consumed.isMultiple(of: 100) { await Task.yield() }
        }
        #expect(consumed == 5_000)
        #expect(outOfOrder == 0)
        #expect(worstLead <= 200, "the engine ran \(worstLead) inputs ahead of the consumer")
    }

    @Test("a slow consumer with auto batching also stays bounded relative to the input size")
    func backpressureAuto() async throws {
        let input = CountingSequence(count: 1_000_000) { i in delayed { i }() }
        var consumed = 0
        var worstLead = 0
        for try await _ in Parallel(nJobs: 2).generatorUnordered(input) {
            consumed += 1
            worstLead = max(worstLead, input.pulls.value - consumed)
            if consumed == 20_000 { break }
        }
        #expect(worstLead < 300_000, "the engine ran \(worstLead) inputs ahead of the consumer")
    }

    @Test("an error in a task ends the generator: earlier results are kept, then the error (nJobs 1)")
    func errorAfterResults() async throws {
        let tasks = (0..<10).map { i in
            Delayed { () throws -> Int in
                if i == 5 { throw TestError(index: 5) }
                return i
            }
        }
        var seen: [Int] = []
        var iterator = Parallel(nJobs: 1).generator(tasks).makeAsyncIterator()
        let error = await #expect(throws: TestError.self) {
            while let value = try await iterator.next() { seen.append(value) }
        }
        #expect(error == TestError(index: 5))
        #expect(seen == [0, 1, 2, 3, 4])
        #expect(try await iterator.next() == nil)
    }

    @Test("an error in a task ends a parallel generator with that error", arguments: [false, true])
    func errorParallel(unordered: Bool) async throws {
        let tasks = (0..<200).map { i in
            Delayed { () throws -> Int in
                if i == 50 { throw TestError(index: 50) }
                return i
            }
        }
        let p = Parallel(nJobs: 2, batchSize: 1)
        let results = unordered ? p.generatorUnordered(tasks) : p.generator(tasks)
        var seen: [Int] = []
        let error = await #expect(throws: TestError.self) {
            for try await value in results { seen.append(value) }
        }
        #expect(error == TestError(index: 50))
        #expect(!seen.contains(50))
        if !unordered { #expect(seen == Array(0..<seen.count)) }
    }
}
