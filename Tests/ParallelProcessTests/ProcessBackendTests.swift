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
        let squares = try await Parallel(nJobs: 2, backend: .instance(sharedProcessBackend))(
            (0..<100).map { SquareJob(x: $0) })
        #expect(squares == (0..<100).map { $0 * $0 })
        // A backend of its own: no other test's aborted call can end its workers meanwhile.
        let backend = ProcessBackend()
        let pids = try await Parallel(nJobs: 2, backend: .instance(backend), batchSize: 1)(
            (0..<20).map { PidJob(tag: $0) })
        #expect(pids.count == 20)
        #expect(!pids.contains(getpid()))
        // Every task ran in one of the backend's own workers (the pool is kept between calls).
        let workers = Set(await backend.liveWorkerPIDs())
        #expect(Set(pids).isSubset(of: workers), "pids \(Set(pids)) not among the workers \(workers)")
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
        let pids = try await Parallel(nJobs: 2, backend: .instance(backend), batchSize: 1)(
            (0..<8).map { PidJob(tag: $0) })
        // The call returns after its workers are reaped: none of them exists any more.
        for pid in Set(pids) {
            #expect(kill(pid, 0) == -1 && errno == ESRCH, "worker \(pid) outlived its call")
        }
    }

    @Test func generatorsStreamResults() async throws {
        let parallel = Parallel(nJobs: 2, backend: .instance(sharedProcessBackend), batchSize: 2)
        var ordered: [Int] = []
        for try await value in parallel.generator((0..<30).map { SquareJob(x: $0) }) { ordered.append(value) }
        #expect(ordered == (0..<30).map { $0 * $0 })
        var unordered: [Int] = []
        for try await value in parallel.generatorUnordered((0..<30).map { SquareJob(x: $0) }) {
            unordered.append(value)
        }
        #expect(unordered.sorted() == (0..<30).map { $0 * $0 })
        // Leaving early stops the work; the pool keeps serving.
        for try await value in parallel.generator((0..<1000).map { SquareJob(x: $0) }) where value > 100 { break }
        #expect(try await parallel((0..<4).map { SquareJob(x: $0) }) == [0, 1, 4, 9])
    }

    @Test func cancellingTheCallerKillsTheRunningWorker() async throws {
        let backend = ProcessBackend()
        let markers = NSTemporaryDirectory() + "parallelkit-cancel-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
        try FileManager.default.createDirectory(atPath: markers, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: markers) }
        let call = Task {
            try await Parallel(nJobs: 2, backend: .instance(backend), batchSize: 1)(
                (0..<2).map { _ in StuckJob(markerDirectory: markers) })
        }
        // Wait until both workers are inside their minute-long sleep.
        let busy = await eventually(within: .seconds(30)) {
            ((try? FileManager.default.contentsOfDirectory(atPath: markers))?.count ?? 0) == 2
        }
        #expect(busy)
        let pids = ((try? FileManager.default.contentsOfDirectory(atPath: markers)) ?? []).compactMap { Int32($0) }
        let start = ContinuousClock.now
        call.cancel()
        await #expect(throws: CancellationError.self) { _ = try await call.value }
        #expect(ContinuousClock.now - start < .seconds(10))
        let killed = await eventually(within: .seconds(20)) { pids.allSatisfy(ProcResources.hasEnded) }
        #expect(killed, "the stuck workers were killed")
        #expect(try await Parallel(nJobs: 2, backend: .instance(backend))([SquareJob(x: 5)]) == [25])
    }
}

/// Leaves a file named after its worker's pid in `markerDirectory`, then blocks for a minute.
struct StuckJob: ParallelJob {
    var markerDirectory: String
    func run() async throws -> Int {
        _ = FileManager.default.createFile(atPath: markerDirectory + "/\(getpid())", contents: nil)
        sleep(60)
        return 0
    }
}
