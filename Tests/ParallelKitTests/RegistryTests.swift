import Dispatch
import Foundation
@_spi(Locking) import ParallelCore
import ParallelKit
import Synchronization
import Testing

/// Registering a third-party backend by name, `makeDefault`, listing names, an unknown
/// name's error listing the registered ones. These tests change the process-wide registry, so
/// they run one at a time, register only unique names, and restore the default.
@Suite("Registry: third-party backends by name", .serialized)
struct RegistryTests {
    static func uniqueName(_ stem: String) -> String { "test-\(stem)-\(UUID().uuidString.prefix(8))" }

    @Test("a registered backend is listed with the built-in ones, sorted")
    func listing() {
        let name = Self.uniqueName("listed")
        registerParallelBackend(name) { RecordingBackend() }
        let names = registeredParallelBackends()
        #expect(names.contains(name))
        for builtin in ["sequential", "threading", "process", "loky", "multiprocessing"] {
            #expect(names.contains(builtin))
        }
        #expect(names == names.sorted())
    }

    @Test("Parallel(backend: name) runs through the registered factory")
    func runByName() async throws {
        let name = Self.uniqueName("by-name")
        let backend = RecordingBackend()
        registerParallelBackend(name) { backend }
        let results = try await Parallel(nJobs: 2, backend: .named(name))((0..<30).map { i in delayed { i * i }() })
        #expect(results == (0..<30).map { $0 * $0 })
        #expect(backend.contexts.count == 1)
        #expect(backend.batchSizes.reduce(0, +) == 30)
    }

    @Test("withParallelConfig(backend: name) selects the registered backend for calls inside")
    func runByScope() async throws {
        let name = Self.uniqueName("by-scope")
        let backend = RecordingBackend()
        registerParallelBackend(name) { backend }
        let results = try await withParallelConfig(backend: .named(name), nJobs: 3) {
            try await Parallel()((0..<10).map { i in delayed { i }() })
        }
        #expect(results == Array(0..<10))
        #expect(backend.contexts.map(\.nJobs) == [3])
    }

    @Test("makeDefault makes calls that name no backend use it; resetDefault restores threading")
    func makeDefault() async throws {
        let name = Self.uniqueName("default")
        let delegate = ThreadingDelegate()
        // The delegate behaves exactly as the threading backend, so other suites running meanwhile
        // are not disturbed; it only counts the calls made under this test's marker.
        registerParallelBackend(name, makeDefault: true) { delegate }
        defer { BackendRegistry.shared.resetDefault() }
        let marked = try await ThreadingDelegate.$marker.withValue(true) {
            try await Parallel(nJobs: 2)((0..<10).map { i in delayed { i }() })
        }
        #expect(marked == Array(0..<10))
        #expect(delegate.markedCalls == 1)
        BackendRegistry.shared.resetDefault()
        _ = try await ThreadingDelegate.$marker.withValue(true) {
            try await Parallel(nJobs: 2)((0..<10).map { i in delayed { i }() })
        }
        #expect(delegate.markedCalls == 1, "the default was not restored")
    }

    @Test("an unknown name is .unknownBackend listing the registered names, and nothing is taken")
    func unknownName() async throws {
        let registered = Self.uniqueName("listed-in-error")
        registerParallelBackend(registered) { RecordingBackend() }
        let input = CountingSequence(count: 10) { i in delayed { i }() }
        let error = await #expect(throws: ParallelError.self) {
            try await Parallel(nJobs: 2, backend: "unit-testing")(input)
        }
        #expect(error?.code == .unknownBackend)
        #expect(error?.description.contains("unit-testing") == true)
        for name in ["sequential", "threading", "process", "loky", "multiprocessing", registered] {
            #expect(error?.description.contains(name) == true, "\(name) is not listed")
        }
        #expect(input.pulls.value == 0)
        let scopeError = await #expect(throws: ParallelError.self) {
            try await withParallelConfig(backend: "unit-testing") { () async in Issue.record("the body ran") }
        }
        #expect(scopeError?.code == .unknownBackend)
    }

    @Test("a third-party backend built on DispatchQueue, registered from outside the library, runs calls")
    func thirdPartyBackend() async throws {
        let name = Self.uniqueName("dispatch")
        registerParallelBackend(name) { DispatchQueueBackend() }
        let results = try await Parallel(nJobs: 2, backend: .named(name))((0..<1_000).map { i in delayed { i + 1 }() })
        #expect(results == Array(1...1_000))
        // The engine re-binds the scope around its batches, wherever they run.
        let levels = try await Parallel(nJobs: 2, backend: .named(name))(
            (0..<4).map { _ in
                Delayed { ParallelConfig.current.nestingLevel }
            })
        #expect(levels == [1, 1, 1, 1])
        await #expect(throws: TestError(index: 7)) {
            try await Parallel(nJobs: 2, backend: .named(name))(
                (0..<20).map { i in
                    Delayed { () throws -> Int in
                        if i == 7 { throw TestError(index: 7) }
                        return i
                    }
                })
        }
    }

    @Test("a backend instance can be passed directly, without registering it")
    func instanceChoice() async throws {
        let backend = RecordingBackend()
        #expect(
            try await Parallel(nJobs: 2, backend: .instance(backend))((0..<5).map { i in delayed { i }() })
                == Array(0..<5))
        #expect(backend.contexts.count == 1)
    }
}

/// A backend that delegates to the threading backend and counts the calls made under a marker.
final class ThreadingDelegate: ParallelBackend {
    @TaskLocal static var marker = false

    private let threading = ThreadingBackend()
    private let marked = Atomic<Int>(0)

    var markedCalls: Int { marked.load(ordering: .relaxed) }
    var displayName: String { threading.displayName }
    var capabilities: BackendCapabilities { threading.capabilities }
    var autoBatching: AutoBatchingPolicy { threading.autoBatching }

    func effectiveNJobs(_ requested: Int) -> Int { threading.effectiveNJobs(requested) }

    func startCall(_ context: BackendCallContext) async throws -> any BackendCall {
        if Self.marker { marked.add(1, ordering: .relaxed) }
        return try await threading.startCall(context)
    }
}

/// A third-party-style backend that imports only ParallelCore: batches run on serial
/// DispatchQueues (one per worker), through a task executor, so nothing ever blocks a thread of
/// Swift's cooperative pool.
final class DispatchQueueBackend: ParallelBackend {
    var displayName: String { "DispatchQueueBackend" }

    func startCall(_ context: BackendCallContext) async throws -> any BackendCall {
        DispatchQueueCall(width: context.nJobs)
    }
}

/// Runs jobs on a serial DispatchQueue.
final class DispatchQueueExecutor: TaskExecutor {
    private let queue: DispatchQueue

    init(label: String) { queue = DispatchQueue(label: label) }

    func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        queue.async { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}

final class DispatchQueueCall: BackendCall {
    private let lanes: [DispatchQueueExecutor]
    private let tasks = LockedValue<[Task<Void, Never>]>([])

    init(width: Int) {
        lanes = (0..<width).map { DispatchQueueExecutor(label: "test.dispatch-backend.\($0)") }
    }

    func submit(_ batch: TaskBatch, completion: @escaping @Sendable (BatchOutcome) -> Void) {
        let lane = lanes[batch.firstIndex % lanes.count]
        let task = Task(executorPreference: lane) { completion(await batch.run()) }
        tasks.withLock { $0.append(task) }
    }

    func abort() {
        for task in tasks.withLock({ $0 }) { task.cancel() }
    }
}
