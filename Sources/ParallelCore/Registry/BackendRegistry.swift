/// Makes a fresh backend for a call, or returns a shared one.
public typealias ParallelBackendFactory = @Sendable () -> any ParallelBackend

/// Registers a backend under a name, joblib's `register_parallel_backend`.
///
/// After this, `Parallel(backend: "name")` and `withParallelConfig(backend: "name")` use it.
/// Registering an existing name replaces it (built-in names included). A third-party backend
/// imports only `ParallelCore` and calls this from its own `register…()` function; registration
/// is never an import side effect.
///
/// - Parameters:
///   - name: the name users write.
///   - makeDefault: also make it the backend used when nothing names one (instead of
///     `"threading"`).
///   - factory: called when a call resolves to this name. Return a shared instance to keep
///     workers between calls, or a new one per call.
/// - Concurrency: thread-safe; a lock guards the registry.
public func registerParallelBackend(
    _ name: String, makeDefault: Bool = false,
    factory: @escaping @Sendable () -> any ParallelBackend
) {
    BackendRegistry.shared.register(name, makeDefault: makeDefault, factory: factory)
}

/// The names of the registered backends, sorted. The built-in names are always there.
/// - Concurrency: thread-safe.
public func registeredParallelBackends() -> [String] {
    BackendRegistry.shared.names()
}

/// The process-wide table of backend factories, in the shape of swift-log's `LoggingSystem`: a
/// global guarded by a lock, read on every call.
package final class BackendRegistry: Sendable {
    package static let shared = BackendRegistry()

    private struct State {
        var factories: [String: ParallelBackendFactory] = [:]
        var defaultName: String = BuiltinBackendName.threading
        var builtinsInstalled = false
    }

    private let state = LockedValue(State())

    package init() {}

    /// Registers or replaces `name`.
    package func register(_ name: String, makeDefault: Bool, factory: @escaping ParallelBackendFactory) {
        state.withLock {
            $0.factories[name] = factory
            if makeDefault { $0.defaultName = name }
        }
    }

    /// Installs the built-in backends once, without replacing a name a user registered first.
    package func installBuiltins(_ builtins: [(String, ParallelBackendFactory)]) {
        state.withLock {
            guard !$0.builtinsInstalled else { return }
            $0.builtinsInstalled = true
            for (name, factory) in builtins where $0.factories[name] == nil {
                $0.factories[name] = factory
            }
        }
    }

    /// All registered names plus the built-in ones, sorted.
    package func names() -> [String] {
        state.withLock { Set($0.factories.keys).union(BuiltinBackendName.all).sorted() }
    }

    /// Whether `name` is registered or built in.
    package func isKnown(_ name: String) -> Bool {
        BuiltinBackendName.all.contains(name) || state.withLock { $0.factories[name] != nil }
    }

    /// The name of the default backend.
    package var defaultName: String { state.withLock { $0.defaultName } }

    /// Restores the default backend name (for tests that change it).
    package func resetDefault(to name: String = BuiltinBackendName.threading) {
        state.withLock { $0.defaultName = name }
    }

    /// Makes the backend registered under `name`.
    /// - Throws: ``ParallelError`` `.unknownBackend` listing the registered names.
    package func make(_ name: String) throws -> any ParallelBackend {
        guard let factory = state.withLock({ $0.factories[name] }) else {
            throw Self.unknown(name, known: names())
        }
        return factory()
    }

    /// The error for a name nobody registered.
    /// A long name is quoted shortened (`EchoedText`), so the message stays readable.
    package static func unknown(_ name: String, known: [String]) -> ParallelError {
        let quoted = EchoedText.shortened(name)
        return ParallelError(
            .unknownBackend,
            "unknown backend '\(quoted)': the registered backends are \(known.map(EchoedText.shortened).joined(separator: ", ")). "
                + "Register it first with registerParallelBackend(\"\(quoted)\") { … }, or use one of those.")
    }
}
