import ParallelKit
import Testing

/// `batchSize: N` splits the input exactly as joblib does, and `.auto` grows batches at
/// most ×2 per step while they finish fast, with small batches at the tail. Batches are observed
/// with a recording backend that sees exactly what the engine submits.
@Suite("Batching: fixed sizes as joblib's, auto growth")
struct BatchingTests {
    struct FixedCase: Sendable, CustomTestStringConvertible {
        var tasks: Int
        var batchSize: Int
        var preDispatch: PreDispatch
        var expected: [Int]
        var testDescription: String { "N=\(tasks) batchSize=\(batchSize) preDispatch=\(preDispatch)" }
    }

    /// joblib 1.6's recorded sequences with nJobs 2.
    @Test(
        "a fixed batchSize splits as joblib's documented sequences",
        arguments: [
            FixedCase(tasks: 20, batchSize: 3, preDispatch: "2*n_jobs", expected: [2, 2, 3, 3, 3, 3, 1, 1, 1, 1]),
            FixedCase(tasks: 20, batchSize: 3, preDispatch: .all, expected: [3, 3, 3, 3, 3, 3, 1, 1]),
            FixedCase(
                tasks: 103, batchSize: 5, preDispatch: "2*n_jobs",
                expected: [2, 2] + Array(repeating: 5, count: 18) + Array(repeating: 1, count: 9)),
        ])
    func fixedBatchSequences(_ shape: FixedCase) async throws {
        let backend = RecordingBackend()
        for input in [AnySequenceKind.array, .lazy] {
            let before = backend.batchSizes.count
            let p = Parallel(
                nJobs: 2, backend: .instance(backend), preDispatch: shape.preDispatch,
                batchSize: .fixed(shape.batchSize))
            let results = try await input.run(p, count: shape.tasks)
            #expect(results == (0..<shape.tasks).map { $0 * 2 })
            #expect(Array(backend.batchSizes[before...]) == shape.expected, "input: \(input)")
        }
    }

    @Test("batches are contiguous runs of the input, in submission order")
    func contiguousBatches() async throws {
        let backend = RecordingBackend()
        _ = try await Parallel(nJobs: 2, backend: .instance(backend), batchSize: 3)(
            (0..<20).map { i in delayed { i }() })
        let sizes = backend.batchSizes
        let firsts = backend.firstIndices
        var expectedFirst = 0
        for (size, first) in zip(sizes, firsts) {
            #expect(first == expectedFirst)
            expectedFirst += size
        }
        #expect(expectedFirst == 20)
    }

    @Test("the backend is told the resolved worker count, verbosity and timeout")
    func callContext() async throws {
        let backend = RecordingBackend()
        _ = try await Parallel(nJobs: 3, backend: .instance(backend), timeout: .seconds(30))(
            (0..<5).map { i in delayed { i }() })
        let context = try #require(backend.contexts.last)
        #expect(context.nJobs == 3)
        #expect(context.verbose == 0)
        #expect(context.timeout == .seconds(30))
        #expect(context.maxNbytes == 1_048_576)
        #expect(context.mmapMode == .r)
    }

    @Test(".auto starts with single-task batches and grows at most ×2 per step; every task is sent once")
    func autoGrowth() async throws {
        let backend = RecordingBackend()
        let count = 50_000
        let results = try await Parallel(nJobs: 2, backend: .instance(backend))(
            (0..<count).map { i in delayed { i }() })
        #expect(results == Array(0..<count))
        let sizes = backend.batchSizes
        #expect(sizes.reduce(0, +) == count)
        #expect(Array(sizes.prefix(4)) == [1, 1, 1, 1], "the default window of 2 × nJobs goes out one task at a time")
        var largest = sizes[0]
        for size in sizes.dropFirst() {
            #expect(size <= 2 * largest, "a batch of \(size) followed batches of at most \(largest)")
            largest = max(largest, size)
        }
        #expect(largest >= 64, "trivial tasks should grow batches well beyond 1 (largest: \(largest))")
        #expect(sizes.count < count / 10, "auto batching sent \(sizes.count) batches for \(count) trivial tasks")
    }

    @Test(".auto with slow tasks keeps batches small")
    func autoSlowTasks() async throws {
        let backend = RecordingBackend()
        // Each task takes ~5 ms of wall time: above the in-process minimum of 2 ms per batch, so
        // batches should stay at a single task.
        let results = try await Parallel(nJobs: 2, backend: .instance(backend))(
            (0..<20).map { i in
                Delayed { () async throws -> Int in
                    try await Task.sleep(for: .milliseconds(5))
                    return i
                }
            })
        #expect(results == Array(0..<20))
        #expect(backend.batchSizes.allSatisfy { $0 == 1 }, "\(backend.batchSizes)")
    }

    @Test("with nJobs 1 a fixed batch size takes k inputs before running any of them")
    func sequentialTakesBatch() async throws {
        let log = EventLog()
        let input = CountingSequence(count: 7, log: log) { i in
            Delayed { () -> Int in
                log.append("Consumed \(i)")
                return i
            }
        }
        _ = try await Parallel(nJobs: 1, batchSize: 3)(input)
        let produced = { (r: Range<Int>) in r.map { "Produced \($0)" } }
        let consumed = { (r: Range<Int>) in r.map { "Consumed \($0)" } }
        #expect(
            log.snapshot == produced(0..<3) + consumed(0..<3) + produced(3..<6) + consumed(3..<6) + produced(6..<7)
                + consumed(6..<7))
    }
}

/// The two input shapes the engine handles differently: an array (taken by slices) and a lazy
/// sequence (iterated).
enum AnySequenceKind: Sendable, CustomStringConvertible {
    case array
    case lazy

    var description: String { self == .array ? "array" : "lazy sequence" }

    func run(_ parallel: Parallel, count: Int) async throws -> [Int] {
        switch self {
        case .array: try await parallel((0..<count).map { i in delayed { i * 2 }() })
        case .lazy: try await parallel(CountingSequence(count: count) { i in delayed { i * 2 }() })
        }
    }
}
