import ParallelCore
import ParallelProcess

/// The process backends' registry entries: `"process"` and its alias `"loky"` name one shared
/// ``ProcessBackend`` (a reusable pool, so every call that names either reuses the same
/// workers); `"multiprocessing"` names a ``MultiprocessingBackend`` (workers per call).
enum ProcessBackendRegistration {
    static let builtins: [(String, ParallelBackendFactory)] = {
        let process = ProcessBackend()
        let multiprocessing = MultiprocessingBackend()
        return [
            (BuiltinBackendName.process, { @Sendable in process }),
            (BuiltinBackendName.loky, { @Sendable in process }),
            (BuiltinBackendName.multiprocessing, { @Sendable in multiprocessing }),
        ]
    }()
}
