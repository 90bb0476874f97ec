// Test support for ParallelConfigurationTests: stub backends that are never started, a private
// registry of them, and a recording backend for end-to-end checks.
import Foundation
import ParallelConfiguration
@_spi(Locking) import ParallelCore
import ParallelKit

/// A backend that only describes itself: resolution tests read its name and capabilities; it
/// refuses to start, so no test can run tasks on it by accident.
final class StubBackend: ParallelBackend {
    let name: String
    let capabilities: BackendCapabilities
    let maxWorkers: Int?

    init(_ name: String, capabilities: BackendCapabilities, maxWorkers: Int? = nil) {
        self.name = name
        self.capabilities = capabilities
        self.maxWorkers = maxWorkers
    }

    var displayName: String { name }

    func effectiveNJobs(_ requested: Int) -> Int { maxWorkers.map { min($0, requested) } ?? requested }

    func startCall(_ context: BackendCallContext) async throws -> any BackendCall {
        throw ParallelError(.invalidArgument, "\(name) is a stub and is never started")
    }

    static let threadsCaps = BackendCapabilities(usesThreads: true, supportsSharedMemory: true, runsOutOfProcess: false)
    static let processCaps = BackendCapabilities(
        usesThreads: false, supportsSharedMemory: false, runsOutOfProcess: true, supportsInnerMaxNumThreads: true)
}

/// A private registry with stubs under the built-in names and a few custom ones.
///
/// - `"threading"`: threads, shared memory. `"sequential"`: one worker.
/// - `"process"`, `"loky"`, `"multiprocessing"`: out of process, no shared memory.
/// - `"shared-custom"`: a process-like custom backend that does share memory (a joblib custom
///   backend with `supports_sharedmem`).
/// - `"remote"`: in process but without shared memory and without threads.
func stubRegistry(defaultName: String? = nil) -> BackendRegistry {
    let registry = BackendRegistry()
    let stubs: [String: StubBackend] = [
        "threading": StubBackend("ThreadingStub", capabilities: StubBackend.threadsCaps),
        "sequential": StubBackend("SequentialStub", capabilities: StubBackend.threadsCaps, maxWorkers: 1),
        "process": StubBackend("ProcessStub", capabilities: StubBackend.processCaps),
        "loky": StubBackend("ProcessStub", capabilities: StubBackend.processCaps),
        "multiprocessing": StubBackend("MultiprocessingStub", capabilities: StubBackend.processCaps),
        "shared-custom": StubBackend(
            "SharedCustomStub",
            capabilities: BackendCapabilities(usesThreads: false, supportsSharedMemory: true, runsOutOfProcess: false)),
        "remote": StubBackend(
            "RemoteStub",
            capabilities: BackendCapabilities(usesThreads: false, supportsSharedMemory: false, runsOutOfProcess: false)),
    ]
    for (name, stub) in stubs {
        registry.register(name, makeDefault: name == defaultName) { stub }
    }
    return registry
}

/// Records the contexts of the calls it starts and runs each batch in a `Task`.
final class ContextRecorder: ParallelBackend {
    private let recorded = LockedValue<[BackendCallContext]>([])

    init() {}

    var contexts: [BackendCallContext] { recorded.withLock { $0 } }

    func startCall(_ context: BackendCallContext) async throws -> any BackendCall {
        recorded.withLock { $0.append(context) }
        return Call()
    }

    final class Call: BackendCall {
        func submit(_ batch: TaskBatch, completion: @escaping @Sendable (BatchOutcome) -> Void) {
            Task { completion(await batch.run()) }
        }

        func abort() {}
    }
}

/// The calling thread's kernel name (the threading backend names its threads `pk-threading`).
func currentThreadName() -> String {
    let name = (try? String(contentsOfFile: "/proc/thread-self/comm", encoding: .utf8)) ?? "?"
    return name.trimmingCharacters(in: .whitespacesAndNewlines)
}
