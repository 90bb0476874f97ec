import ParallelKit
import Synchronization
import Testing

/// A job type a worker cannot find by name: `private` types carry an address in their mangled name.
private struct HiddenJob: ParallelJob {
    var x: Int
    func run() async throws -> Int { x }
}

/// Counts how many elements a call pulled from its input.
private final class PullCounter: Sendable {
    let pulled = Atomic<Int>(0)
}

@Suite("A job type that cannot cross is refused before anything starts")
struct JobTypeValidationTests {
    @Test(arguments: ["process", "multiprocessing"])
    func privateJobTypeIsRefusedBeforeInputIsTaken(backend: String) async throws {
        let counter = PullCounter()
        let jobs = (0..<10).lazy.map { i -> HiddenJob in
            counter.pulled.add(1, ordering: .relaxed)
            return HiddenJob(x: i)
        }
        let error = await #expect(throws: ParallelError.self) {
            _ = try await Parallel(nJobs: 2, backend: .named(backend))(AnySequence(jobs))
        }
        #expect(error?.code == .notSerializable)
        #expect(error?.description.contains("HiddenJob") == true)
        #expect(counter.pulled.load(ordering: .relaxed) == 0)
    }

    @Test func privateJobTypeRunsOnThreads() async throws {
        let out = try await Parallel(nJobs: 2)((0..<10).map { HiddenJob(x: $0) })
        #expect(out == Array(0..<10))
    }
}
