import Foundation
import ParallelKit
import Testing

@Suite("Memory: one computation per key across threads and processes")
struct ConcurrencyTests {
    @Test func sixteenThreadsComputeOnce() async throws {
        let scratch = ScratchFolder()
        defer { scratch.remove() }
        let starts = ComputationLog(path: scratch.path + "/starts")
        let computations = ComputationLog(path: scratch.path + "/computations")
        let jobs = (0..<16).map { _ in
            ContendedJob(
                memoryLocation: scratch.path + "/cache", starts: starts, computations: computations,
                expectedStarters: 16, countDistinctProcesses: false)
        }
        let results = try await Parallel(nJobs: 16, backend: "threading", batchSize: 1)(jobs)
        #expect(results == Array(repeating: 4242, count: 16))
        #expect(starts.lines.count == 16)
        #expect(computations.lines.count == 1)
    }

    @Test func sixteenTasksOnFourWorkerProcessesComputeOnce() async throws {
        let scratch = ScratchFolder()
        defer { scratch.remove() }
        let starts = ComputationLog(path: scratch.path + "/starts")
        let computations = ComputationLog(path: scratch.path + "/computations")
        let jobs = (0..<16).map { _ in
            ContendedJob(
                memoryLocation: scratch.path + "/cache", starts: starts, computations: computations,
                expectedStarters: 4, countDistinctProcesses: true)
        }
        let backend = ProcessBackend()
        let results = try await Parallel(nJobs: 4, backend: .instance(backend), batchSize: 1)(jobs)
        #expect(results == Array(repeating: 4242, count: 16))
        #expect(Set(starts.lines).count == 4, "the tasks ran in \(Set(starts.lines).count) processes")
        #expect(!starts.lines.contains("\(getpid())"))
        #expect(computations.lines.count == 1)
    }

    @Test(arguments: ["sequential", "threading", "process", "multiprocessing"])
    func cachedJobsRunOnEveryBackend(_ backend: String) async throws {
        let scratch = ScratchFolder("backend-\(backend)")
        defer { scratch.remove() }
        let log = ComputationLog(path: scratch.path + "/log")
        let memory = try Memory(location: scratch.path)
        let jobs = (0..<20).map { memory.cached(SquareJob(x: $0, offset: 1, log: log), version: 3) }
        let parallel = Parallel(nJobs: 2, backend: .named(backend))
        #expect(try await parallel(jobs) == (0..<20).map { $0 * $0 + 1 })
        #expect(log.lines.count == 20)
        #expect(try await parallel(jobs) == (0..<20).map { $0 * $0 + 1 })
        #expect(log.lines.count == 20)
        // A new version is a new set of entries.
        _ = try await parallel([memory.cached(SquareJob(x: 1, offset: 1, log: log), version: 4)])
        #expect(log.lines.count == 21)
    }
}

/// A job type a worker process cannot find by name.
private struct HiddenJob: ParallelJob {
    var x: Int
    func run() async throws -> Int { x }
}

@Suite("Memory: cached jobs and worker processes")
struct CachedJobTypeTests {
    @Test func aCachedPrivateJobIsRefusedBeforeAnythingRuns() async throws {
        let scratch = ScratchFolder()
        defer { scratch.remove() }
        let memory = try Memory(location: scratch.path)
        await #expect {
            _ = try await Parallel(nJobs: 2, backend: "process")([memory.cached(HiddenJob(x: 1))])
        } throws: { error in
            (error as? ParallelError)?.code == .notSerializable
        }
        #expect(scratch.entryNames.isEmpty)
        // In this process it caches like any job.
        #expect(try await memory.cached(HiddenJob(x: 5)).run() == 5)
        #expect(scratch.entryNames.count == 1)
    }

    @Test func sharedArrayResultsAreStoredByValue() async throws {
        let scratch = ScratchFolder()
        defer { scratch.remove() }
        let memory = try Memory(location: scratch.path)
        let log = ComputationLog(path: scratch.path + "/log")
        let make = memory.cache("ramp") { (n: Int) in
            log.record("\(n)")
            return try SharedArray((0..<n).map(Double.init))
        }
        let first = try await make(1000)
        let second = try await make(1000)
        #expect(log.lines == ["1000"])
        #expect(second.count == 1000 && second[999] == 999 && first[10] == 10)
    }
}
