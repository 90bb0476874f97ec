import Foundation
import ParallelKit
import Testing

@testable import ParallelProcess

/// A process-wide count only means something in a process where nothing else runs, and the
/// test runner runs suites in parallel. So each scenario runs inside a worker process of its own
/// (started by a `MultiprocessingBackend`), which measures itself before and after.
struct ResourceProbeJob: ParallelJob {
    enum Scenario: String, Codable, Sendable {
        case callsInARow, overlappingCalls, crashes
    }

    struct Snapshot: Codable, Sendable, CustomStringConvertible {
        var descriptors: Int
        var backendDescriptors: Int
        var threads: Int
        var ioThreads: Int
        var children: Int
        var residentBytes: Int
        var description: String {
            "fds \(descriptors) (backend \(backendDescriptors)), threads \(threads) (I/O \(ioThreads)), "
                + "children \(children), RSS \(residentBytes >> 20) MiB"
        }
    }

    struct Report: Codable, Sendable {
        var before: Snapshot
        var after: Snapshot
        var resultsCorrect: Bool
        var liveWorkers: Int
    }

    var scenario: Scenario

    static func snapshot() -> Snapshot {
        let now = ProcResources.current()
        return Snapshot(
            descriptors: now.fileDescriptors, backendDescriptors: backendDescriptors(), threads: now.threads,
            ioThreads: ProcResources.threads(named: "pk-process-io"), children: now.children.count,
            residentBytes: now.residentBytes)
    }

    /// Descriptors of the kinds process backends open: pipes, pidfds and memfds.
    static func backendDescriptors() -> Int {
        guard let fds = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") else { return -1 }
        return fds.filter { fd in
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(fd)") else {
                return false
            }
            return target.hasPrefix("pipe:") || target.contains("pidfd") || target.contains("parallelkit")
        }.count
    }

    func run() async throws -> Report {
        let backend = ProcessBackend()
        let jobs = (0..<8).map { SquareJob(x: $0) }
        let expected = jobs.map { $0.x * $0.x }
        var correct = true
        func call() async throws {
            let results = try await Parallel(nJobs: 2, backend: .instance(backend))(jobs)
            correct = correct && results == expected
        }
        func overlapping() async throws {
            let outcomes = try await withThrowingTaskGroup(of: Bool.self) { group in
                for index in 0..<8 {
                    group.addTask {
                        let mine = (0..<(20 + index)).map { SquareJob(x: $0 + index) }
                        let results = try await Parallel(nJobs: 2, backend: .instance(backend), batchSize: 3)(mine)
                        return results == mine.map { $0.x * $0.x }
                    }
                }
                return try await group.reduce(into: [Bool]()) { $0.append($1) }
            }
            correct = correct && outcomes.count == 8 && outcomes.allSatisfy { $0 }
        }
        func crash(_ round: Int) async {
            let crashing = (0..<6).map { CrashingJob(index: $0, crashAt: round % 6, kind: .sigkill) }
            do {
                _ = try await Parallel(nJobs: 2, backend: .instance(backend), batchSize: 1)(crashing)
                correct = false
            } catch let error as ParallelError {
                correct = correct && error.code == .workerCrashed && error.taskIndex == round % 6
            } catch {
                correct = false
            }
        }

        // Warm up, so the pool, the I/O thread and the allocator reach their steady state.
        switch scenario {
        case .callsInARow: for _ in 0..<50 { try await call() }
        case .overlappingCalls: for _ in 0..<5 { try await overlapping() }
        case .crashes: for round in 0..<3 { await crash(round) }; try await call()
        }
        let before = Self.snapshot()
        switch scenario {
        case .callsInARow: for _ in 0..<1000 { try await call() }
        case .overlappingCalls: for _ in 0..<50 { try await overlapping() }
        case .crashes:
            for round in 0..<20 { await crash(round) }
            try await call()
        }
        // Killed workers are reaped, and their descriptors closed, on the I/O thread, after the
        // calls have returned: wait until the counts are back at their steady values (a leak never
        // gets there; 20 s is far beyond any reaping delay on a busy machine), then compare.
        _ = await eventually(within: .seconds(20)) {
            let now = Self.snapshot()
            return now.children <= 2 && now.descriptors <= before.descriptors
                && now.backendDescriptors <= before.backendDescriptors
        }
        let after = Self.snapshot()
        return Report(
            before: before, after: after, resultsCorrect: correct, liveWorkers: await backend.liveWorkerPIDs().count)
    }
}

@Suite("Resources")
struct ResourceTests {
    func probe(_ scenario: ResourceProbeJob.Scenario) async throws -> ResourceProbeJob.Report {
        let reports = try await Parallel(nJobs: 2, backend: .instance(MultiprocessingBackend()))(
            [ResourceProbeJob(scenario: scenario)])
        return try #require(reports.first)
    }

    func expectNoGrowth(_ report: ResourceProbeJob.Report, sourceLocation: SourceLocation = #_sourceLocation) {
        let (before, after) = (report.before, report.after)
        let context = Comment(rawValue: "before: \(before)\nafter:  \(after)")
        #expect(report.resultsCorrect, context, sourceLocation: sourceLocation)
        #expect(after.descriptors == before.descriptors, context, sourceLocation: sourceLocation)
        #expect(after.backendDescriptors == before.backendDescriptors, context, sourceLocation: sourceLocation)
        #expect(after.children == 2 && report.liveWorkers == 2, context, sourceLocation: sourceLocation)
        #expect(after.ioThreads == 1, context, sourceLocation: sourceLocation)
        // The cooperative pool may start a thread or two late; a leak would be one per call.
        #expect(after.threads <= before.threads + 2, context, sourceLocation: sourceLocation)
        #expect(after.residentBytes - before.residentBytes < 16 << 20, context, sourceLocation: sourceLocation)
    }

    @Test func thousandCallsInARowLeakNothing() async throws {
        expectNoGrowth(try await probe(.callsInARow))
    }

    @Test func eightOverlappingCallsLeakNothing() async throws {
        expectNoGrowth(try await probe(.overlappingCalls))
    }

    @Test func crashesLeakNothing() async throws {
        expectNoGrowth(try await probe(.crashes))
    }
}
