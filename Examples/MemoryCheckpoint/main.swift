// `swift run memory-checkpoint`: joblib's gallery page "Checkpoint using joblib.Memory and
// joblib.Parallel", in Swift. A slow function is cached on disk with `Memory`; a run that is
// interrupted keeps everything it finished, and the next run computes only the rest.
//
//     swift run memory-checkpoint                    # interrupts itself half-way, then runs again
//     swift run memory-checkpoint --location DIR     # one real run, cached in DIR: press Ctrl-C
//                                                    # half-way, run the same command again
import Foundation
import ParallelKit
import Synchronization

/// One slow step of the computation: a worker process can run it too, so it is a ParallelJob.
struct SlowSquare: ParallelJob {
    var x: Int
    var milliseconds = 25
    func run() async throws -> Int {
        try await Task.sleep(for: .milliseconds(milliseconds))  // stands for real work
        Computations.count.add(1, ordering: .relaxed)
        return x * x
    }
}

enum Computations {
    static let count = Atomic<Int>(0)
    static func take() -> Int { count.exchange(0, ordering: .relaxed) }
}

let inputs = Array(0..<40)
let arguments = Array(CommandLine.arguments.dropFirst())

if let index = arguments.firstIndex(of: "--location"), index + 1 < arguments.count {
    // A real run, about 5 s: interrupt it with Ctrl-C and run it again.
    let memory = try Memory(location: arguments[index + 1])
    let started = ContinuousClock.now
    let results = try await Parallel(nJobs: 4, batchSize: 1)(
        inputs.map { memory.cached(SlowSquare(x: $0, milliseconds: 500)) })
    print(
        "sum of squares \(results.reduce(0, +)): computed \(Computations.take()) of \(inputs.count) in \(ContinuousClock.now - started), the rest came from \(arguments[index + 1])"
    )
} else {
    let location = NSTemporaryDirectory() + "parallelkit-memory-checkpoint-\(getpid())"
    defer { try? FileManager.default.removeItem(atPath: location) }
    let memory = try Memory(location: location)
    let jobs = inputs.map { memory.cached(SlowSquare(x: $0)) }

    // First run, "interrupted" after 15 results: a real Ctrl-C or crash leaves the same state,
    // every result finished before it is on disk.
    var received = 0
    for try await _ in Parallel(nJobs: 4, batchSize: 1).generator(jobs) {
        received += 1
        if received == 15 { break }
    }
    print("first run: stopped after \(received) results; \(Computations.take()) computations finished and are stored")

    // Second run: the whole computation again. Only what the first run did not finish is computed.
    let started = ContinuousClock.now
    let results = try await Parallel(nJobs: 4, batchSize: 1)(jobs)
    let computed = Computations.take()
    print(
        "second run: \(results.count) results, \(computed) computed, \(results.count - computed) from the cache, in \(started.duration(to: .now))"
    )
    precondition(results == inputs.map { $0 * $0 }, "wrong results")
    precondition(computed < inputs.count - 10, "the second run should have reused the first run's results")

    // Third run: everything from the cache.
    let again = try await Parallel(nJobs: 4)(jobs)
    print("third run: \(again.count) results, \(Computations.take()) computed")
}
