@_spi(Locking) import ParallelCore
import ParallelKit
import Testing

/// Every entry point takes an `AsyncSequence` of tasks: consumed lazily on the caller's isolation,
/// under the same pre-dispatch rule; its error ends the call in every mode.
@Suite("AsyncSequence inputs")
struct AsyncInputTests {
    struct InputBroke: Error, Equatable {}

    /// Yields `count` tasks (task i returns i * 2), counting how many were pulled; throws after
    /// `failAfter` elements when set.
    struct CountingTasks: AsyncSequence {
        typealias Element = Delayed<Int>
        let count: Int
        let pulled: Counter
        var failAfter: Int?

        final class Counter: Sendable {
            let value = LockedValue(0)
        }

        struct AsyncIterator: AsyncIteratorProtocol {
            let sequence: CountingTasks
            var next = 0

            mutating func next() async throws -> Delayed<Int>? {
                if let limit = sequence.failAfter, next == limit { throw InputBroke() }
                guard next < sequence.count else { return nil }
                let i = next
                next += 1
                sequence.pulled.value.withLock { $0 += 1 }
                return delayed { (x: Int) in x * 2 }(i)
            }
        }

        func makeAsyncIterator() -> AsyncIterator { AsyncIterator(sequence: self) }
    }

    @Test("list mode, in order, on every path", arguments: [(1, "threading"), (2, "threading"), (2, "sequential")])
    func listMode(nJobs: Int, backend: String) async throws {
        let tasks = CountingTasks(count: 300, pulled: .init())
        let values = try await Parallel(nJobs: nJobs, backend: .named(backend))(tasks)
        #expect(values == (0..<300).map { $0 * 2 })
    }

    @Test("generators and results modes take async inputs too")
    func otherModes() async throws {
        var ordered: [Int] = []
        for try await value in Parallel(nJobs: 2, batchSize: 3).generator(CountingTasks(count: 50, pulled: .init())) {
            ordered.append(value)
        }
        #expect(ordered == (0..<50).map { $0 * 2 })
        var unordered = Set<Int>()
        for try await value in Parallel(nJobs: 2).generatorUnordered(CountingTasks(count: 50, pulled: .init())) {
            unordered.insert(value)
        }
        #expect(unordered == Set((0..<50).map { $0 * 2 }))
        let fates = try await Parallel(nJobs: 2).results(CountingTasks(count: 20, pulled: .init()))
        #expect(fates.compactMap { try? $0.get() } == (0..<20).map { $0 * 2 })
    }

    /// Runs calls on its own isolation, so the test can wait until the engine is suspended.
    actor Caller {
        func run(_ parallel: Parallel, _ input: GatedTasks) async throws -> [Int] { try await parallel(input) }
        func settle() {}
    }

    /// Like ``CountingTasks``, but each task waits for `gate` and counts its start.
    struct GatedTasks: AsyncSequence, Sendable {
        typealias Element = Delayed<Int>
        let count: Int
        let pulled: CountingTasks.Counter
        let gate: Gate
        let started: EventCounter

        struct AsyncIterator: AsyncIteratorProtocol {
            let sequence: GatedTasks
            var next = 0

            mutating func next() async throws -> Delayed<Int>? {
                guard next < sequence.count else { return nil }
                let i = next
                next += 1
                sequence.pulled.value.withLock { $0 += 1 }
                let (gate, started) = (sequence.gate, sequence.started)
                return Delayed { () async -> Int in
                    started.increment()
                    _ = await gate.wait()
                    return i
                }
            }
        }

        func makeAsyncIterator() -> AsyncIterator { AsyncIterator(sequence: self) }
    }

    @Test("lazy: with preDispatch 3 and batchSize 1, exactly 3 inputs are pulled before any result is in")
    func lazyConsumption() async throws {
        let gate = Gate()
        let started = EventCounter()
        let pulled = CountingTasks.Counter()
        let caller = Caller()
        let input = GatedTasks(count: 20, pulled: pulled, gate: gate, started: started)
        let call = Task { try await caller.run(Parallel(nJobs: 2, preDispatch: 3, batchSize: 1), input) }
        #expect(await started.wait(until: 2))
        await caller.settle()
        #expect(pulled.value.withLock { $0 } == 3)
        gate.open()
        #expect(try await call.value == Array(0..<20))
        #expect(pulled.value.withLock { $0 } == 20)
    }

    @Test("the sequence's error ends the call, in list and results modes", arguments: [1, 2])
    func inputErrorEndsTheCall(nJobs: Int) async throws {
        await #expect(throws: InputBroke()) {
            _ = try await Parallel(nJobs: nJobs)(CountingTasks(count: 100, pulled: .init(), failAfter: 40))
        }
        await #expect(throws: InputBroke()) {
            _ = try await Parallel(nJobs: nJobs).results(CountingTasks(count: 100, pulled: .init(), failAfter: 40))
        }
    }
}

extension AsyncInputTests {
    /// The numbers 0..<count, as an `AsyncSequence`.
    struct Numbers: AsyncSequence, Sendable {
        typealias Element = Int
        let count: Int
        struct AsyncIterator: AsyncIteratorProtocol {
            var next = 0
            let count: Int
            mutating func next() async -> Int? {
                guard next < count else { return nil }
                defer { next += 1 }
                return next
            }
        }
        func makeAsyncIterator() -> AsyncIterator { AsyncIterator(count: count) }
    }

    @Test("map and forEach over an AsyncSequence, sync and async, nJobs 1 and 2", arguments: [1, 2])
    func mapAndForEach(nJobs: Int) async throws {
        let parallel = Parallel(nJobs: nJobs)
        #expect(try await parallel.map(Numbers(count: 100)) { $0 * 3 } == (0..<100).map { $0 * 3 })
        #expect(
            try await parallel.map(Numbers(count: 100)) { (x: Int) async -> Int in x + 1 } == (0..<100).map { $0 + 1 })
        let seen = LockedValue(0)
        try await parallel.forEach(Numbers(count: 64)) { x in seen.withLock { $0 += x } }
        #expect(seen.withLock { $0 } == (0..<64).reduce(0, +))
    }
}
