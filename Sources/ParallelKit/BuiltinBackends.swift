import ParallelConfiguration
import ParallelCore
import ParallelSequential
import ParallelThreading

/// Registers the built-in backends the first time a call needs the registry. Names a user
/// registered before that are kept (``BackendRegistry/installBuiltins(_:)`` never replaces).
enum BuiltinBackends {
    /// `true` once installed; `static let` initialisation is thread-safe and runs once.
    private static let installed: Bool = {
        let threading = ThreadingBackend()
        let sequential = SequentialBackend()
        var builtins: [(String, ParallelBackendFactory)] = [
            (BuiltinBackendName.sequential, { @Sendable in sequential }),
            (BuiltinBackendName.threading, { @Sendable in threading }),
        ]
        builtins += ProcessBackendRegistration.builtins
        builtins += ClusterBackendRegistration.builtins
        BackendRegistry.shared.installBuiltins(builtins)
        return true
    }()

    static func ensureRegistered() {
        _ = installed
    }
}
