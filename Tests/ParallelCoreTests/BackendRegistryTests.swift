import ParallelCore
import Testing

/// The registry as a value: a private ``BackendRegistry`` per test, so the process-wide one is
/// never touched here (ParallelKitTests covers it through the public functions).
@Suite("BackendRegistry: names, factories, default")
struct BackendRegistryTests {
    final class Named: ParallelBackend {
        let name: String
        init(_ name: String) { self.name = name }
        var displayName: String { name }
        func startCall(_ context: BackendCallContext) async throws -> any BackendCall {
            throw ParallelError(.invalidArgument, "never started")
        }
    }

    @Test("the built-in names are always listed, sorted, even before registration")
    func builtinNames() {
        let registry = BackendRegistry()
        #expect(registry.names() == ["loky", "multiprocessing", "process", "sequential", "threading"])
        #expect(registry.isKnown("threading"))
        #expect(!registry.isKnown("nope"))
        #expect(registry.defaultName == "threading")
    }

    @Test("a registered backend is listed and made by its factory")
    func register() throws {
        let registry = BackendRegistry()
        let shared = Named("Custom")
        registry.register("custom", makeDefault: false) { shared }
        #expect(registry.names().contains("custom"))
        #expect(registry.names() == registry.names().sorted())
        #expect(registry.isKnown("custom"))
        #expect(try registry.make("custom") === shared)
        #expect(registry.defaultName == "threading")
    }

    @Test("registering a name again replaces its factory")
    func replace() throws {
        let registry = BackendRegistry()
        registry.register("custom", makeDefault: false) { Named("first") }
        registry.register("custom", makeDefault: false) { Named("second") }
        #expect(try registry.make("custom").displayName == "second")
    }

    @Test("makeDefault changes the default, and resetDefault restores threading")
    func makeDefault() {
        let registry = BackendRegistry()
        registry.register("custom", makeDefault: true) { Named("Custom") }
        #expect(registry.defaultName == "custom")
        registry.resetDefault()
        #expect(registry.defaultName == "threading")
    }

    @Test("an unknown name is .unknownBackend, and the message lists every registered name")
    func unknown() {
        let registry = BackendRegistry()
        registry.register("zeta-backend", makeDefault: false) { Named("Zeta") }
        let error = #expect(throws: ParallelError.self) { try registry.make("nope") }
        #expect(error?.code == .unknownBackend)
        for name in registry.names() {
            #expect(error?.description.contains(name) == true, "\(name) is not listed")
        }
        #expect(error?.description.contains("nope") == true)
    }

    @Test("built-ins never replace a name a user registered first, and install only once")
    func builtinsDoNotReplace() throws {
        let registry = BackendRegistry()
        registry.register("threading", makeDefault: false) { Named("Mine") }
        registry.installBuiltins([("threading", { Named("Builtin") }), ("sequential", { Named("Seq1") })])
        registry.installBuiltins([("sequential", { Named("Seq2") })])
        #expect(try registry.make("threading").displayName == "Mine")
        #expect(try registry.make("sequential").displayName == "Seq1")
    }

    @Test("registration is thread-safe: 200 concurrent registrations all land")
    func concurrentRegistration() async throws {
        let registry = BackendRegistry()
        await withTaskGroup(of: Void.self) { group in
            for i in 0..<200 {
                group.addTask { registry.register("b\(i)", makeDefault: false) { Named("B\(i)") } }
                group.addTask { _ = registry.names() }
            }
        }
        for i in 0..<200 { #expect(try registry.make("b\(i)").displayName == "B\(i)") }
    }
}
