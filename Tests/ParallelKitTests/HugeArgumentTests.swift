import Foundation
import ParallelKit
import Synchronization
import Testing

/// Red-team F3 and F7, end to end through `Parallel`: no argument can trap, and a huge timeout
/// never fires. F3 also has the red team's "held up" cases that are cheap to keep.
@Suite("Huge arguments")
struct HugeArgumentTests {
    /// Counts the tasks that ran, to show that a rejected call ran none.
    final class Ran: Sendable {
        private let count = Atomic<Int>(0)
        func tick() { count.add(1, ordering: .relaxed) }
        var value: Int { count.load(ordering: .relaxed) }
    }

    static func tasks(_ ran: Ran, count: Int = 20) -> [Delayed<Int>] {
        (0..<count).map { i in
            delayed {
                ran.tick(); return i
            }()
        }
    }

    @Test(
        "F3: nJobs Int.max, 1 << 62 and 10^18 (any preDispatch) are invalidArgument; nothing runs",
        arguments: [
            (Int.max, PreDispatch("2*n_jobs")), (1 << 62, PreDispatch("2*n_jobs")),
            (1_000_000_000_000_000_000, PreDispatch.tasks(4)), (1_000_000_000_000_000_000, PreDispatch.all),
            ((1 << 20) + 1, PreDispatch("1.5*n_jobs")),
        ] as [(Int, PreDispatch)])
    func hugeNJobsIsAnError(_ nJobs: Int, _ preDispatch: PreDispatch) async throws {
        let ran = Ran()
        for backend: BackendChoice in ["threading", "process", "sequential"] {
            await #expect {
                _ = try await Parallel(nJobs: nJobs, backend: backend, preDispatch: preDispatch)(Self.tasks(ran))
            } throws: { error in
                (error as? ParallelError)?.code == .invalidArgument && "\(error)".contains("nJobs")
            }
        }
        await #expect(throws: ParallelError.self) {
            try await withParallelConfig(nJobs: nJobs) { _ = try await Parallel()(Self.tasks(ran)) }
        }
        #expect(throws: ParallelError.self) { _ = try effectiveNJobs(nJobs) }
        #expect(ran.value == 0)
    }

    @Test("F3: the largest nJobs with the largest factor, and .tasks(Int.max), still run")
    func largestAcceptedValuesRun() async throws {
        let ran = Ran()
        #expect(
            try await Parallel(nJobs: 1 << 20, preDispatch: "1000000*n_jobs")(Self.tasks(ran, count: 8)) == Array(0..<8)
        )
        #expect(
            try await Parallel(nJobs: 4, preDispatch: .tasks(Int.max), batchSize: 1_099_511_627_776)(
                Self.tasks(ran, count: 8)) == Array(0..<8))
        #expect(
            try await Parallel(nJobs: Int.min)(Self.tasks(ran, count: 3)) == [0, 1, 2],
            "joblib's arithmetic: sequential")
    }

    @Test("F3/F16: maxNbytes takes Int.max as a string; an enormous size says it is too large")
    func maxNbytesExtremes() async throws {
        let ran = Ran()
        #expect(
            try await Parallel(nJobs: 2, maxNbytes: "9223372036854775807")(Self.tasks(ran, count: 4)) == Array(0..<4))
        await #expect {
            _ = try await Parallel(nJobs: 2, maxNbytes: "999999999999G")(Self.tasks(ran, count: 4))
        } throws: { error in
            (error as? ParallelError)?.code == .invalidArgument && "\(error)".contains("larger than any memory")
        }
    }

    @Test("F7: a huge timeout never fires (threading: 300 calls, process: 20)")
    func hugeTimeoutNeverFires() async throws {
        // The deadline arithmetic is the engine's (TimeoutWatchdog); until it saturates, a
        // failure here is the known F7 issue, reported but not failing the suite.
        var timedOut = 0
        for timeout: Duration in [.seconds(Int64.max), .seconds(18_446_744_073)] {
            for _ in 0..<150 {
                do {
                    _ = try await Parallel(nJobs: 2, timeout: timeout)(
                        (0..<4).map { i in
                            delayed {
                                usleep(1000); return i
                            }()
                        })
                } catch let error as ParallelError where error.code == .timeout {
                    timedOut += 1
                }
            }
        }
        let backend = ProcessBackend()
        for _ in 0..<20 {
            do {
                _ = try await Parallel(nJobs: 2, backend: .instance(backend), timeout: .seconds(Int64.max))(
                    (0..<4).map { HugeTimeoutJob(value: $0) })
            } catch let error as ParallelError where error.code == .timeout {
                timedOut += 1
            }
        }
        #expect(timedOut == 0, "calls with a timeout of ~584 years or more that timed out: \(timedOut)")
    }
}

/// A small job for process calls.
struct HugeTimeoutJob: ParallelJob {
    var value: Int
    func run() async throws -> Int {
        usleep(1000)
        return value
    }
}
