import ParallelCore

/// The process backends' registry entries ("process", its alias "loky", "multiprocessing").
///
/// Until the process backends land (issue 3), these names resolve to a backend that refuses to
/// start with a clear error rather than running anything silently in-process.
enum ProcessBackendRegistration {
    static let builtins: [(String, ParallelBackendFactory)] = {
        let process = UnavailableBackend(name: "ProcessBackend", requested: BuiltinBackendName.process)
        let multiprocessing = UnavailableBackend(
            name: "MultiprocessingBackend", requested: BuiltinBackendName.multiprocessing)
        return [
            (BuiltinBackendName.process, { @Sendable in process }),
            (BuiltinBackendName.loky, { @Sendable in process }),
            (BuiltinBackendName.multiprocessing, { @Sendable in multiprocessing }),
        ]
    }()
}

/// A registered name whose implementation is not available in this build.
final class UnavailableBackend: ParallelBackend {
    let name: String
    let requested: String

    init(name: String, requested: String) {
        self.name = name
        self.requested = requested
    }

    var displayName: String { name }

    var capabilities: BackendCapabilities {
        BackendCapabilities(usesThreads: false, supportsSharedMemory: false, runsOutOfProcess: true)
    }

    func startCall(_ context: BackendCallContext) async throws -> any BackendCall {
        throw ParallelError.invalid(
            "backend", "the '\(requested)' backend is not available in this build yet",
            fix: "Use \"threading\" (the default) or register a backend under that name.")
    }
}
