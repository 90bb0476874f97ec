import Foundation
import ParallelKit
import Testing

@testable import ParallelProcess

/// Repeated and overlapping calls must not leak descriptors, threads, processes or memory.
/// The counts are process-wide, so these tests run one at a time, and the margins allow for
/// what other test suites running in parallel may do to the thread count and memory.
@Suite("Resources", .serialized)
struct ResourceTests {
    /// File descriptors that belong to process backends: pipes, pidfds and memfds.
    static func backendDescriptors() -> Int {
        guard let fds = try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/fd") else { return -1 }
        return fds.filter { fd in
            guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: "/proc/self/fd/\(fd)") else {
                return false
            }
            return target.hasPrefix("pipe:") || target.contains("pidfd") || target.contains("parallelkit")
        }.count
    }

    @Test func thousandCallsInARowLeakNothing() async throws {
        let backend = ProcessBackend()
        let jobs = (0..<8).map { SquareJob(x: $0) }
        let expected = jobs.map { $0.x * $0.x }
        // Warm up: the pool, the event loop thread and the allocator reach their steady state.
        for _ in 0..<50 {
            #expect(try await Parallel(nJobs: 2, backend: .instance(backend))(jobs) == expected)
        }
        let before = ProcResources.current()
        let descriptorsBefore = Self.backendDescriptors()
        for _ in 0..<1000 {
            let results = try await Parallel(nJobs: 2, backend: .instance(backend))(jobs)
            if results != expected {
                Issue.record("wrong results: \(results)")
                break
            }
        }
        let after = ProcResources.current()
        #expect(Self.backendDescriptors() == descriptorsBefore, "before: \(before), after: \(after)")
        #expect(after.children.count <= 2 + before.children.count, "before: \(before), after: \(after)")
        #expect(ProcResources.threads(named: "pk-process-io") == 1)
        #expect(after.threads <= before.threads + 8, "before: \(before), after: \(after)")
        #expect(after.residentBytes - before.residentBytes < 32 << 20, "before: \(before), after: \(after)")
        let workers = await backend.liveWorkerPIDs()
        #expect(workers.count == 2)
    }

    @Test func eightOverlappingCallsShareOnePool() async throws {
        let backend = ProcessBackend()
        func round() async throws {
            try await withThrowingTaskGroup(of: Void.self) { group in
                for call in 0..<8 {
                    group.addTask {
                        let jobs = (0..<(20 + call)).map { SquareJob(x: $0 + call) }
                        let results = try await Parallel(nJobs: 2, backend: .instance(backend), batchSize: 3)(jobs)
                        #expect(results == jobs.map { $0.x * $0.x })
                    }
                }
                try await group.waitForAll()
            }
        }
        for _ in 0..<5 { try await round() }
        let before = ProcResources.current()
        let descriptorsBefore = Self.backendDescriptors()
        for _ in 0..<50 { try await round() }
        let after = ProcResources.current()
        #expect(Self.backendDescriptors() == descriptorsBefore, "before: \(before), after: \(after)")
        #expect(after.threads <= before.threads + 8, "before: \(before), after: \(after)")
        #expect(after.residentBytes - before.residentBytes < 32 << 20, "before: \(before), after: \(after)")
        #expect(await backend.liveWorkerPIDs().count == 2)
    }

    @Test func crashesLeakNothing() async throws {
        let backend = ProcessBackend()
        _ = try await Parallel(nJobs: 2, backend: .instance(backend))((0..<4).map { SquareJob(x: $0) })
        let descriptorsBefore = Self.backendDescriptors()
        for round in 0..<10 {
            let jobs = (0..<6).map { CrashingJob(index: $0, crashAt: round % 6, kind: .sigkill) }
            await #expect(throws: ParallelError.self) {
                _ = try await Parallel(nJobs: 2, backend: .instance(backend), batchSize: 1)(jobs)
            }
        }
        _ = try await Parallel(nJobs: 2, backend: .instance(backend))((0..<4).map { SquareJob(x: $0) })
        #expect(Self.backendDescriptors() == descriptorsBefore)
        #expect(await backend.liveWorkerPIDs().count == 2)
    }
}
