import Foundation
import ParallelKit
import Testing

@testable import ParallelProcess

/// What a seeded chaos job does at its index: a pure function of (seed, index), so the test knows
/// which tasks must fail — on every attempt, so retries cannot hide them.
enum ChaosFault: String, Codable, Sendable {
    case none, crash, hang, error

    static func of(_ index: Int, seed: UInt64) -> ChaosFault {
        var z = seed &+ UInt64(index) &* 0x9E37_79B9_7F4A_7C15
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        z ^= z >> 31
        switch z % 100 {
        case 0..<2: return .crash
        case 2..<3: return .hang
        case 3..<6: return .error
        default: return .none
        }
    }
}

struct ChaosError: Error, Codable, Equatable { var index: Int }

struct ChaosJob: ParallelJob {
    var index: Int
    var seed: UInt64

    func run() async throws -> Int {
        switch ChaosFault.of(index, seed: seed) {
        case .none: return index &* 7
        case .crash:
            // Deaths that are instant whatever the load: a segfault goes through the runtime's
            // backtracer, which can keep a dying worker alive past a 1 s timeout on a busy machine
            // (the poison-item tests cover segfaults).
            if index % 2 == 0 { kill(getpid(), SIGKILL) }
            exit(3)
        case .hang:
            usleep(60_000_000)
            return -1
        case .error:
            throw ChaosError(index: index)
        }
    }
}

/// Runs the chaos in a worker process of its own, so its process-wide counts (children, fds,
/// threads) are not disturbed by the other suites running in the test process.
struct ChaosProbeJob: ParallelJob {
    struct Report: Codable, Sendable {
        var problems: [String]
        var before: ResourceProbeJob.Snapshot
        var after: ResourceProbeJob.Snapshot
        var liveWorkers: Int
    }

    var count: Int
    var seed: UInt64

    func run() async throws -> Report {
        let backend = ProcessBackend()
        // Warm up so the pool and the I/O thread are in their steady state.
        _ = try await Parallel(nJobs: 2, backend: .instance(backend))((0..<8).map { SquareJob(x: $0) })
        let before = ResourceProbeJob.snapshot()
        let jobs = (0..<count).map { ChaosJob(index: $0, seed: seed) }
        let fates = try await Parallel(
            nJobs: 4, backend: .instance(backend), timeout: .seconds(1), retry: .attempts(2)
        ).results(jobs)
        var problems: [String] = []
        if fates.count != count { problems.append("\(fates.count) fates for \(count) jobs") }
        for (index, fate) in fates.enumerated() {
            let expected = ChaosFault.of(index, seed: seed)
            switch (fate, expected) {
            case (.success(let value), .none):
                if value != index * 7 { problems.append("task \(index): wrong value \(value)") }
            case (.success, _):
                problems.append("task \(index) succeeded but should fail with \(expected)")
            case (.failure(let failure), .none):
                problems.append("task \(index) failed but should succeed: \(failure)")
            case (.failure(let failure), _):
                let code = (failure.error as? ParallelError)?.code
                let matches: Bool
                switch expected {
                case .crash: matches = code == .workerCrashed
                case .hang: matches = code == .timeout
                case .error: matches = (failure.error as? ChaosError) == ChaosError(index: index)
                case .none: matches = false
                }
                if !matches { problems.append("task \(index): expected \(expected), got \(failure.error)") }
                if failure.attempts != 2 { problems.append("task \(index): \(failure.attempts) attempts, not 2") }
            }
        }
        // A full call afterwards: the pool works.
        let squares = try await Parallel(nJobs: 2, backend: .instance(backend))((0..<8).map { SquareJob(x: $0) })
        if squares != (0..<8).map({ $0 * $0 }) { problems.append("the pool is broken after the chaos") }
        var after = ResourceProbeJob.snapshot()
        // Killed workers are reaped on the I/O thread and the pool settles back to nJobs 2.
        for _ in 0..<400 where after.children > 2 || after.backendDescriptors > before.backendDescriptors {
            usleep(25_000)
            after = ResourceProbeJob.snapshot()
        }
        return Report(
            problems: problems, before: before, after: after, liveWorkers: await backend.liveWorkerPIDs().count)
    }
}

@Suite("Chaos: crashes, hangs and errors on worker processes, with retries")
struct ChaosTests {
    @Test("2,000 jobs: 2% crash, 1% hang past the timeout, 3% throw — every index once, exact fates, nothing leaked")
    func chaos() async throws {
        let seed: UInt64 = 20_261_129
        let expectedFaults = (0..<2000).filter { ChaosFault.of($0, seed: seed) != .none }.count
        #expect(expectedFaults > 80 && expectedFaults < 160, "the seed gives \(expectedFaults) faults")
        let reports = try await Parallel(nJobs: 2, backend: .instance(MultiprocessingBackend()))(
            [ChaosProbeJob(count: 2000, seed: seed)])
        let report = try #require(reports.first)
        #expect(report.problems.isEmpty, "\(report.problems.prefix(10))")
        let context = Comment(rawValue: "before: \(report.before)\nafter:  \(report.after)")
        #expect(report.after.children <= 2, context)
        #expect(report.after.backendDescriptors <= report.before.backendDescriptors, context)
        #expect(report.after.threads <= report.before.threads + 4, context)
        #expect(report.after.ioThreads <= max(report.before.ioThreads, 1), context)
    }
}
