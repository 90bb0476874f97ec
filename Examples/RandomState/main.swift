// `swift run random-state`: joblib's gallery page "Random state within joblib.Parallel", in Swift.
//
// joblib's page shows that a global random generator gives different numbers depending on the
// backend, and asks you to pass a seed per task by hand. ParallelRandom makes the by-hand part
// one line: one seed for the run, one stream per task (its index), and every backend, nJobs and
// batch size give the same numbers, in a worker process or not.
import Foundation
import ParallelKit

/// The mean of `draws` uniform values in [0, 1), from the task's own stream.
struct RandomMean: ParallelJob {
    var seed: UInt64
    var index: Int
    var draws = 1000

    func run() async throws -> Double {
        var rng = ParallelRandom(seed: seed, stream: index)
        var sum = 0.0
        // 53 random bits to a Double, written out: `Double.random(in:using:)` may map bits to
        // values differently in a later Swift version.
        for _ in 0..<draws { sum += Double(rng.next() >> 11) * 0x1p-53 }
        return sum / Double(draws)
    }
}

/// The same, from the system generator: not reproducible anywhere.
struct UnseededMean: ParallelJob {
    var draws = 1000
    func run() async throws -> Double {
        var sum = 0.0
        for _ in 0..<draws { sum += Double.random(in: 0..<1) }
        return sum / Double(draws)
    }
}

func show(_ label: String, _ values: [Double]) {
    print(
        label.padding(toLength: 40, withPad: " ", startingAt: 0),
        values.prefix(4).map { String(format: "%.6f", $0) }.joined(separator: "  "))
}

let tasks = (0..<8).map { RandomMean(seed: 2026, index: $0) }
var reference: [Double]?
for (backend, nJobs) in [("sequential", 1), ("threading", 4), ("process", 2), ("multiprocessing", 3)] {
    for batchSize: BatchSize in [1, .auto] {
        let values = try await Parallel(nJobs: nJobs, backend: .named(backend), batchSize: batchSize)(tasks)
        show("\(backend), nJobs \(nJobs), batch \(batchSize):", values)
        if let reference {
            precondition(values == reference, "ParallelRandom gave different numbers on \(backend)")
        }
        reference = reference ?? values
    }
}
print("identical on every backend, nJobs and batch size")

let first = try await Parallel(nJobs: 2, backend: "process")((0..<8).map { _ in UnseededMean() })
let second = try await Parallel(nJobs: 2, backend: "process")((0..<8).map { _ in UnseededMean() })
show("system generator, run 1:", first)
show("system generator, run 2:", second)
print("the system generator differs from run to run: \(first != second)")
