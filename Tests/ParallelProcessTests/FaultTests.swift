import Foundation
import ParallelKit
import Testing

@testable import ParallelProcess

/// How a `CrashingJob` ends its worker.
enum CrashKind: String, Codable, Sendable {
    case fatalError, indexOutOfRange, segfault, sigkill, exit
}

/// Runs normally except at `crashAt`, where it takes its worker down.
struct CrashingJob: ParallelJob {
    var index: Int
    var crashAt: Int
    var kind: CrashKind

    func run() async throws -> Int {
        guard index == crashAt else { return index }
        switch kind {
        case .fatalError:
            fatalError("CrashingJob \(index) gave up on purpose")
        case .indexOutOfRange:
            let empty: [Int] = []
            return empty[index]
        case .segfault:
            UnsafeMutablePointer<Int>(bitPattern: 8)!.pointee = 1
            return -1
        case .sigkill:
            kill(getpid(), SIGKILL)
            return -1
        case .exit:
            exit(3)
        }
    }
}

/// Sleeps for `milliseconds` (a stuck task, for timeouts).
struct SleepingJob: ParallelJob {
    var milliseconds: Int
    func run() async throws -> Int {
        // A blocking sleep: a stuck task that cooperative cancellation cannot reach.
        usleep(UInt32(milliseconds) * 1000)
        return milliseconds
    }
}

@Suite("Worker faults", .serialized)
struct FaultTests {
    let backend = ProcessBackend()

    func expectCrash(
        _ kind: CrashKind, mentions expected: [String], sourceLocation: SourceLocation = #_sourceLocation
    ) async throws {
        let jobs = (0..<12).map { CrashingJob(index: $0, crashAt: 7, kind: kind) }
        do {
            _ = try await Parallel(nJobs: 2, backend: .instance(backend), batchSize: 1)(jobs)
            Issue.record("the call should throw", sourceLocation: sourceLocation)
        } catch let error as ParallelError {
            #expect(error.code == .workerCrashed, sourceLocation: sourceLocation)
            #expect(error.taskIndex == 7, sourceLocation: sourceLocation)
            #expect(error.description.contains("task 7"), "\(error)", sourceLocation: sourceLocation)
            for text in expected {
                #expect(
                    error.description.contains(text), "\(error) should mention \(text)", sourceLocation: sourceLocation)
            }
        }
        // The dead worker was replaced: the same pool serves the next call.
        let squares = try await Parallel(nJobs: 2, backend: .instance(backend))((0..<20).map { SquareJob(x: $0) })
        #expect(squares == (0..<20).map { $0 * $0 }, sourceLocation: sourceLocation)
    }

    @Test func fatalErrorIsReportedWithItsMessage() async throws {
        try await expectCrash(.fatalError, mentions: ["Fatal error: CrashingJob 7 gave up on purpose", "signal"])
    }

    @Test func indexOutOfRangeIsReported() async throws {
        try await expectCrash(.indexOutOfRange, mentions: ["Fatal error: Index out of range"])
    }

    @Test func segfaultIsReported() async throws {
        try await expectCrash(.segfault, mentions: ["SIGSEGV"])
    }

    @Test func sigkillIsReported() async throws {
        try await expectCrash(.sigkill, mentions: ["SIGKILL"])
    }

    @Test func exitMidTaskIsReported() async throws {
        try await expectCrash(.exit, mentions: ["exited with status 3"])
    }

    @Test func crashInALargeBatchNamesTheExactTask() async throws {
        let jobs = (0..<1000).map { CrashingJob(index: $0, crashAt: 777, kind: .sigkill) }
        do {
            _ = try await Parallel(nJobs: 2, backend: .instance(backend), batchSize: 500)(jobs)
            Issue.record("the call should throw")
        } catch let error as ParallelError {
            #expect(error.code == .workerCrashed)
            #expect(error.taskIndex == 777)
        }
    }

    @Test func timeoutKillsTheStuckWorkerAndNamesTheTask() async throws {
        let jobs = [10, 10, 60_000, 10].map { SleepingJob(milliseconds: $0) }
        let start = ContinuousClock.now
        do {
            // 2 s: far beyond the 10 ms jobs even on a busy machine, so the task named is the stuck one.
            _ = try await Parallel(nJobs: 2, backend: .instance(backend), timeout: .seconds(2), batchSize: 1)(jobs)
            Issue.record("the call should time out")
        } catch let error as ParallelError {
            #expect(error.code == .timeout)
            #expect(error.taskIndex == 2)
        }
        // Generous for a busy machine; the stuck job alone would take a minute.
        #expect(ContinuousClock.now - start < .seconds(12))
        // The stuck worker was killed: the pool works, and nobody sleeps for a minute.
        let squares = try await Parallel(nJobs: 2, backend: .instance(backend))((0..<10).map { SquareJob(x: $0) })
        #expect(squares == (0..<10).map { $0 * $0 })
        let sleepers = try await Parallel(nJobs: 2, backend: .instance(backend), batchSize: 1)(
            (0..<4).map { _ in PidJob(tag: 0) })
        #expect(sleepers.count == 4)
    }
}
