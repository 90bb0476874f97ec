import Foundation
@_spi(Locking) import ParallelCore
import ParallelKit
import Testing

/// `Parallel(nJobs:…)(tasks)` returns results in submission order, for `Delayed` tasks and
/// `ParallelJob`s, for tuple results and async bodies, whatever order the tasks complete in.
@Suite("Ordering: results come back in submission order")
struct OrderingTests {
    @Test("joblib's first example: sqrt of i² for i in 0..<10", arguments: [1, 2, 3, -1, -2])
    func sqrtExample(nJobs: Int) async throws {
        let roots = try await Parallel(nJobs: nJobs)((0..<10).map { i in delayed(sqrt)(Double(i * i)) })
        #expect(roots == [0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0])
    }

    @Test(
        "test_simple_parallel: square over 0..<5 on every in-process backend and nJobs",
        arguments: ["sequential", "threading"], [1, 2, -1, -2])
    func simpleParallel(backend: String, nJobs: Int) async throws {
        let squares = try await Parallel(nJobs: nJobs, backend: .named(backend))(
            (0..<5).map { x in delayed { (x: Int) in x * x }(x) })
        #expect(squares == [0, 1, 4, 9, 16])
    }

    @Test("joblib's reshaping example: modf results unzip into fractional and whole parts", arguments: [1, 2])
    func reshapingWithModf(nJobs: Int) async throws {
        let r = try await Parallel(nJobs: nJobs)((0..<10).map { i in delayed(modf)(Double(i) / 2) })
        // Swift's modf returns (whole, fraction); Python's returns (fraction, whole).
        let res = r.map(\.1)
        let i = r.map(\.0)
        #expect(res == [0.0, 0.5, 0.0, 0.5, 0.0, 0.5, 0.0, 0.5, 0.0, 0.5])
        #expect(i == [0.0, 0.0, 1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 4.0, 4.0])
    }

    @Test("tasks returning tuples of mixed types keep every field with its task")
    func tupleResults() async throws {
        let describe: @Sendable (Int, String) -> (Int, String, Bool) = { n, s in (n * 2, s + "!", n.isMultiple(of: 2)) }
        let results = try await Parallel(nJobs: 2, batchSize: 1)((0..<50).map { n in delayed(describe)(n, "t\(n)") })
        #expect(results.map(\.0) == (0..<50).map { $0 * 2 })
        #expect(results.map(\.1) == (0..<50).map { "t\($0)!" })
        #expect(results.map(\.2) == (0..<50).map { $0.isMultiple(of: 2) })
    }

    @Test("delayed works for functions of 0 to 6 arguments (joblib's args and kwargs)")
    func arities() async throws {
        let p = Parallel(nJobs: 2)
        #expect(try await p([delayed { 42 }()]) == [42])
        #expect(
            try await p((0..<10).map { x in delayed { (x: Int, y: Int) in x * x + y }(x, 1) })
                == (0..<10).map { $0 * $0 + 1 })
        let three = try await p([delayed { (a: Int, b: Int, c: Int) in a + b + c }(1, 2, 3)])
        #expect(three == [6])
        let four = try await p([delayed { (a: Int, b: Int, c: Int, d: Int) in a * b * c * d }(1, 2, 3, 4)])
        #expect(four == [24])
        let five = try await p([
            delayed { (a: String, b: String, c: String, d: String, e: String) in a + b + c + d + e }(
                "a", "b", "c", "d", "e")
        ])
        #expect(five == ["abcde"])
        let six = try await p([
            delayed { (a: Int, b: Int, c: Int, d: Int, e: Int, f: Int) in [a, b, c, d, e, f].reduce(0, +) }(
                1, 2, 3, 4, 5, 6)
        ])
        #expect(six == [21])
    }

    /// Task 0 cannot finish before the last task has run: completion order is then far from
    /// submission order, and the results must still come back in submission order.
    @Test(
        "results are in submission order when the first task completes last",
        arguments: [BatchSize.fixed(1), .auto, .fixed(3)])
    func headOfLineCompletesLast(batchSize: BatchSize) async throws {
        let count = 40
        let gate = Gate()
        let completions = EventLog()
        let tasks = (0..<count).map { i in
            Delayed { () async -> Int in
                if i == 0 { await gate.wait() }
                completions.append("\(i)")
                if i == count - 1 { gate.open() }
                return i * i
            }
        }
        let results = try await Parallel(nJobs: 2, batchSize: batchSize)(tasks)
        #expect(results == (0..<count).map { $0 * $0 })
        let order = completions.snapshot
        #expect(order.firstIndex(of: "0")! > order.firstIndex(of: "\(count - 1)")!, "task 0 completed last: \(order)")
    }

    @Test("async bodies that suspend for different lengths still come back in order")
    func asyncBodies() async throws {
        let gates = (0..<8).map { _ in Gate() }
        // Task i waits for task i + 1 to have run: completion order is reversed.
        let tasks = (0..<8).map { i in
            Delayed { () async -> String in
                if i < 7 { await gates[i + 1].wait() }
                gates[i].open()
                await Task.yield()
                return "r\(i)"
            }
        }
        let results = try await Parallel(nJobs: 8, batchSize: 1)(tasks)
        #expect(results == (0..<8).map { "r\($0)" })
    }

    @Test("ParallelJob outputs come back in submission order", arguments: [1, 2, 3])
    func parallelJobs(nJobs: Int) async throws {
        let squares = try await Parallel(nJobs: nJobs)((0..<100).map { SquareJob(x: $0) })
        #expect(squares == (0..<100).map { $0 * $0 })
    }

    @Test("ParallelJobs completing out of order still come back in order")
    func parallelJobsOutOfOrder() async throws {
        let key = UUID().uuidString
        let results = try await Parallel(nJobs: 2, batchSize: 1)(
            (0..<10).map { GatedJob(index: $0, last: 9, key: key) })
        #expect(results == (0..<10).map { $0 * 10 })
        GatedJob.release(key)
    }

    @Test("an empty input gives an empty result (test_parallel_with_exhausted_iterator)", arguments: [1, 2])
    func emptyInput(nJobs: Int) async throws {
        let none = try await Parallel(nJobs: nJobs)([Delayed<Int>]())
        #expect(none.isEmpty)
        let lazyNone = try await Parallel(nJobs: nJobs)(CountingSequence(count: 0) { i in delayed { i }() })
        #expect(lazyNone.isEmpty)
    }

    struct RaceCase: Sendable, CustomTestStringConvertible {
        var tasks: Int
        var nJobs: Int
        var preDispatch: PreDispatch
        var batchSize: BatchSize
        var testDescription: String {
            "\(tasks) tasks, nJobs \(nJobs), preDispatch \(preDispatch), batchSize \(batchSize)"
        }
    }

    @Test(
        "test_dispatch_race_condition: results equal [i²] for joblib's table of shapes",
        arguments: [
            RaceCase(tasks: 2, nJobs: 2, preDispatch: .all, batchSize: .auto),
            RaceCase(tasks: 2, nJobs: 2, preDispatch: "n_jobs", batchSize: .auto),
            RaceCase(tasks: 10, nJobs: 2, preDispatch: "n_jobs", batchSize: .auto),
            RaceCase(tasks: 517, nJobs: 2, preDispatch: "n_jobs", batchSize: .auto),
            RaceCase(tasks: 10, nJobs: 4, preDispatch: "n_jobs", batchSize: .auto),
            RaceCase(tasks: 200, nJobs: 12, preDispatch: "n_jobs", batchSize: .auto),
            RaceCase(tasks: 25, nJobs: 12, preDispatch: "2 * n_jobs", batchSize: 1),
            RaceCase(tasks: 250, nJobs: 12, preDispatch: .all, batchSize: 1),
            RaceCase(tasks: 250, nJobs: 12, preDispatch: "2 * n_jobs", batchSize: 7),
            RaceCase(tasks: 200, nJobs: 12, preDispatch: "2 * n_jobs", batchSize: .auto),
        ])
    func dispatchRaceCondition(_ shape: RaceCase) async throws {
        let p = Parallel(nJobs: shape.nJobs, preDispatch: shape.preDispatch, batchSize: shape.batchSize)
        let expected = (0..<shape.tasks).map { $0 * $0 }
        #expect(try await p((0..<shape.tasks).map { i in delayed { i * i }() }) == expected)
        #expect(try await p(CountingSequence(count: shape.tasks) { i in delayed { i * i }() }) == expected)
    }

    @Test("a large input of trivial tasks comes back complete and in order")
    func largeInput() async throws {
        let results = try await Parallel(nJobs: 2)((0..<200_000).map { i in delayed { i &* 3 }() })
        #expect(results.count == 200_000)
        #expect(results.enumerated().allSatisfy { $0.element == $0.offset &* 3 })
    }

    @Test("overlapping calls on one Parallel value are independent")
    func overlappingCalls() async throws {
        let p = Parallel(nJobs: 2, batchSize: 1)
        async let a = p((0..<100).map { i in delayed { i }() })
        async let b = p((0..<100).map { i in delayed { -i }() })
        let (ra, rb) = try await (a, b)
        #expect(ra == Array(0..<100))
        #expect(rb == (0..<100).map { -$0 })
    }

    @Test("calling the same Parallel value again after a call finished works")
    func reuse() async throws {
        let p = Parallel(nJobs: 2)
        for round in 0..<5 {
            #expect(try await p((0..<20).map { i in delayed { i + round }() }) == (0..<20).map { $0 + round })
        }
    }
}

/// A job whose first instance waits until the last one has run (per test key).
struct GatedJob: ParallelJob {
    var index: Int
    var last: Int
    var key: String

    private static let gates = LockedValue<[String: Gate]>([:])

    static func gate(_ key: String) -> Gate {
        gates.withLock { gates in
            if let gate = gates[key] { return gate }
            let gate = Gate()
            gates[key] = gate
            return gate
        }
    }

    static func release(_ key: String) {
        let gate = gates.withLock { $0.removeValue(forKey: key) }
        gate?.open()
    }

    func run() async throws -> Int {
        let gate = Self.gate(key)
        if index == 0 { await gate.wait() }
        if index == last { gate.open() }
        return index * 10
    }
}
