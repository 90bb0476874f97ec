import Foundation
import ParallelKit
import Testing

@testable import ParallelProcess

struct SquareJob: ParallelJob {
    var x: Int
    func run() async throws -> Int { x * x }
}

struct PidJob: ParallelJob {
    var tag: Int
    func run() async throws -> Int32 { getpid() }
}

/// Shared by the tests of this file: one pool, reused, as an application would.
let sharedProcessBackend = ProcessBackend()

@Suite("Process backend")
struct ProcessBackendTests {
    @Test func runsJobsInOtherProcesses() async throws {
        let squares = try await Parallel(nJobs: 2, backend: .instance(sharedProcessBackend))((0..<100).map { SquareJob(x: $0) })
        #expect(squares == (0..<100).map { $0 * $0 })
        let pids = try await Parallel(nJobs: 2, backend: .instance(sharedProcessBackend), batchSize: 1)((0..<20).map { PidJob(tag: $0) })
        #expect(!pids.contains(getpid()))
        #expect(Set(pids).count >= 1)
    }

    @Test func codableErrorsComeBackAsThemselves() async throws {
        do {
            _ = try await Parallel(nJobs: 2, backend: .instance(sharedProcessBackend))(
                (0..<10).map { FailingJob(failAt: 6, index: $0) })
            Issue.record("the call should throw")
        } catch let error as CodableFailure {
            #expect(error == CodableFailure(code: 6))
        }
    }

    @Test func multiprocessingRunsAndLeavesNoWorker() async throws {
        let backend = MultiprocessingBackend()
        let squares = try await Parallel(nJobs: 2, backend: .instance(backend))((0..<50).map { SquareJob(x: $0) })
        #expect(squares == (0..<50).map { $0 * $0 })
        let pids = try await Parallel(nJobs: 2, backend: .instance(backend), batchSize: 1)((0..<8).map { PidJob(tag: $0) })
        // The call returns after its workers are reaped: none of them exists any more.
        for pid in Set(pids) {
            #expect(kill(pid, 0) == -1 && errno == ESRCH, "worker \(pid) outlived its call")
        }
    }
}
