import ParallelKit
import Testing

/// When nJobs resolves to 1 the tasks run in the calling task, with no threads, whatever
/// backend was named: the same code path for debugging.
@Suite("nJobs 1 runs in the calling task")
struct SequentialPathTests {
    /// Every way of asking for one worker.
    static let oneWorker: [(String, Parallel)] = [
        ("Parallel()", Parallel()),
        ("nJobs 1", Parallel(nJobs: 1)),
        ("nJobs 1, threading", Parallel(nJobs: 1, backend: "threading")),
        ("nJobs 1, process", Parallel(nJobs: 1, backend: "process")),
        ("nJobs 4, sequential", Parallel(nJobs: 4, backend: "sequential")),
        ("nJobs 1, batchSize 4", Parallel(nJobs: 1, batchSize: 4)),
    ]

    @Test("tasks run in the calling Swift task, never on a pool thread", arguments: oneWorker)
    func runsInCallingTask(label: String, parallel: Parallel) async throws {
        let caller = try #require(currentTaskID())
        let observed = try await parallel(
            (0..<8).map { _ in
                Delayed { () -> (Int?, String) in (currentTaskID(), currentThreadName()) }
            })
        #expect(observed.allSatisfy { $0.0 == caller }, "\(label): a task ran in another Swift task")
        #expect(observed.allSatisfy { $0.1 != "pk-threading" }, "\(label): a task ran on a pool thread")
    }

    @Test("nJobs -2 on a 2-CPU machine is one worker, and runs in the calling task")
    func minusTwoOnTwoCPUs() async throws {
        let caller = try #require(currentTaskID())
        let observed = try await Parallel(nJobs: -2)((0..<4).map { _ in Delayed { currentTaskID() } })
        if cpuCount() == 2 {
            #expect(observed.allSatisfy { $0 == caller })
        } else if cpuCount() > 2 {
            #expect(!observed.allSatisfy { $0 == caller })
        }
    }

    @Test("a scope's nJobs 1 runs in the calling task too")
    func scopeNJobsOne() async throws {
        let caller = try #require(currentTaskID())
        let observed = try await withParallelConfig(backend: "threading", nJobs: 1) {
            try await Parallel()((0..<4).map { _ in Delayed { currentTaskID() } })
        }
        #expect(observed.allSatisfy { $0 == caller })
    }

    @Test("by contrast, nJobs 2 runs tasks on the threading backend's threads")
    func parallelRunsElsewhere() async throws {
        let caller = try #require(currentTaskID())
        let observed = try await Parallel(nJobs: 2, batchSize: 1)(
            (0..<8).map { _ in
                Delayed { () -> (Int?, String) in (currentTaskID(), currentThreadName()) }
            })
        #expect(observed.allSatisfy { $0.0 != caller })
        #expect(observed.allSatisfy { $0.1 == "pk-threading" })
    }

    @Test("a Delayed is fine on a process backend when nJobs resolves to 1")
    func delayedOnProcessWithOneJob() async throws {
        let results = try await Parallel(nJobs: 1, backend: "process")((0..<5).map { i in delayed { i * 3 }() })
        #expect(results == [0, 3, 6, 9, 12])
        let multiprocessing = try await Parallel(nJobs: 1, backend: "multiprocessing")(
            (0..<5).map { i in delayed { i }() })
        #expect(multiprocessing == Array(0..<5))
    }

    @Test("the sequential path keeps a task-local of the caller visible to tasks")
    func callerTaskLocalsVisible() async throws {
        let values = try await Marker.$value.withValue("outer") {
            try await Parallel(nJobs: 1)((0..<3).map { _ in Delayed { Marker.value } })
        }
        #expect(values == ["outer", "outer", "outer"])
    }
}

enum Marker {
    @TaskLocal static var value = "none"
}
