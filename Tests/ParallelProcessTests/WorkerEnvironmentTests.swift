import Foundation
import ParallelKit
import Testing

@testable import ParallelProcess

/// What a job sees of its environment in a worker.
struct EnvironmentProbeJob: ParallelJob {
    struct Report: Codable, Sendable, Equatable {
        var threadLimits: [String: String]
        var nestingLevel: Int
        var backend: String?
        var verbose: Int?
        var tempFolder: String?
        var nestedResults: [Int]
        var isWorker: Bool
    }

    func run() async throws -> Report {
        let config = ParallelConfig.current
        // joblib's nesting rule: one level below a process call, nested calls use threads.
        let nested = try await Parallel(nJobs: 2)((0..<4).map { i in Delayed { i * 2 } })
        var limits: [String: String] = [:]
        for name in WorkerEnvironment.threadLimitVariables {
            limits[name] = ProcessInfo.processInfo.environment[name]
        }
        return Report(
            threadLimits: limits, nestingLevel: config.nestingLevel, backend: config.backend?.description,
            verbose: config.verbose, tempFolder: config.tempFolder, nestedResults: nested,
            isWorker: ParallelWorker.isWorkerProcess)
    }
}

@Suite("Worker environment", .serialized)
struct WorkerEnvironmentTests {
    @Test func threadLimitsFollowLokysRule() {
        let names = WorkerEnvironment.threadLimitVariables
        let fallback = WorkerEnvironment.threadLimits(nJobs: 2, innerMaxNumThreads: nil, cpuCount: 8, parent: [:])
        #expect(names.allSatisfy { fallback[$0] == "4" })
        let tooMany = WorkerEnvironment.threadLimits(nJobs: 16, innerMaxNumThreads: nil, cpuCount: 8, parent: [:])
        #expect(names.allSatisfy { tooMany[$0] == "1" })
        let inherited = WorkerEnvironment.threadLimits(
            nJobs: 2, innerMaxNumThreads: nil, cpuCount: 8, parent: ["OMP_NUM_THREADS": "3"])
        #expect(inherited["OMP_NUM_THREADS"] == "3")
        #expect(inherited["MKL_NUM_THREADS"] == "4")
        let explicit = WorkerEnvironment.threadLimits(
            nJobs: 2, innerMaxNumThreads: 5, cpuCount: 8, parent: ["OMP_NUM_THREADS": "3"])
        #expect(names.allSatisfy { explicit[$0] == "5" })
    }

    @Test func workersSeeLimitsScopeAndNestingRule() async throws {
        let backend = ProcessBackend()
        let reports = try await withParallelConfig(verbose: 0, tempFolder: "/tmp") {
            try await Parallel(nJobs: 2, backend: .instance(backend))([EnvironmentProbeJob()])
        }
        let report = try #require(reports.first)
        #expect(report.isWorker)
        #expect(report.nestingLevel == 1)
        #expect(report.backend == "threading")
        #expect(report.tempFolder == "/tmp", "the caller's scope travels with the batch")
        #expect(report.verbose == 0)
        #expect(report.nestedResults == [0, 2, 4, 6])
        let expected = ProcessInfo.processInfo.environment["OMP_NUM_THREADS"] ?? String(max(cpuCount() / 2, 1))
        #expect(report.threadLimits["OMP_NUM_THREADS"] == expected)
        #expect(report.threadLimits.count == WorkerEnvironment.threadLimitVariables.count)

        let limited = try await withParallelConfig(innerMaxNumThreads: 3) {
            try await Parallel(nJobs: 2, backend: .instance(backend))([EnvironmentProbeJob()])
        }
        #expect(limited.first?.threadLimits.values.allSatisfy { $0 == "3" } == true)
        #expect(limited.first?.nestingLevel == 1)
    }

    @Test func multiprocessingWorkersGetNoThreadLimits() async throws {
        guard ProcessInfo.processInfo.environment["OMP_NUM_THREADS"] == nil else { return }
        let reports = try await Parallel(nJobs: 2, backend: .instance(MultiprocessingBackend()))([EnvironmentProbeJob()]
        )
        #expect(reports.first?.threadLimits["OMP_NUM_THREADS"] == nil)
    }

    @Test func explicitWorkerExecutableIsUsed() async throws {
        let backend = ProcessBackend(workerExecutable: "/proc/self/exe")
        #expect(
            try await Parallel(nJobs: 2, backend: .instance(backend))((0..<6).map { SquareJob(x: $0) }) == [
                0, 1, 4, 9, 16, 25,
            ])
        let wrong = ProcessBackend(workerExecutable: "/bin/true")
        do {
            _ = try await Parallel(nJobs: 2, backend: .instance(wrong))([SquareJob(x: 1)])
            Issue.record("a non-ParallelKit worker executable must fail")
        } catch let error as ParallelError {
            #expect(error.code == .workerCrashed)
            #expect(error.description.contains("without starting worker mode"), "\(error)")
        }
        let missing = ProcessBackend(workerExecutable: "/nonexistent/worker")
        await #expect(throws: ParallelError.self) {
            _ = try await Parallel(nJobs: 2, backend: .instance(missing))([SquareJob(x: 1)])
        }
    }

    @Test func idleWorkersEndAfterTheTimeout() async throws {
        let backend = ProcessBackend(idleWorkerTimeout: .milliseconds(200))
        let pids = Set(
            try await Parallel(nJobs: 2, backend: .instance(backend), batchSize: 1)((0..<8).map { PidJob(tag: $0) }))
        #expect(!pids.isEmpty)
        let ended = await eventually(within: .seconds(20)) { pids.allSatisfy(ProcResources.hasEnded) }
        #expect(ended)
        let forgotten = await eventuallyAsync(within: .seconds(20)) { await backend.liveWorkerPIDs().isEmpty }
        #expect(forgotten)
        // The pool starts again on the next call.
        #expect(try await Parallel(nJobs: 2, backend: .instance(backend))([SquareJob(x: 3)]) == [9])
    }

    @Test func poolFollowsNJobs() async throws {
        let backend = ProcessBackend()
        _ = try await Parallel(nJobs: 3, backend: .instance(backend), batchSize: 1)((0..<9).map { PidJob(tag: $0) })
        #expect(await backend.liveWorkerPIDs().count == 3)
        _ = try await Parallel(nJobs: 2, backend: .instance(backend), batchSize: 1)((0..<9).map { PidJob(tag: $0) })
        // The third worker retires (asynchronously: it is told to exit and is reaped).
        let settled = await eventuallyAsync(within: .seconds(20)) { await backend.liveWorkerPIDs().count == 2 }
        #expect(settled)
    }
}

/// `eventually` for a condition that must be awaited.
func eventuallyAsync(within timeout: Duration, _ condition: () async -> Bool) async -> Bool {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if await condition() { return true }
        try? await Task.sleep(for: .milliseconds(10))
    }
    return await condition()
}
