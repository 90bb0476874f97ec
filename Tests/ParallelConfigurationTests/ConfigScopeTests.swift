import Foundation
import ParallelConfiguration
import ParallelCore
import ParallelKit
import Testing

/// `withParallelConfig` (async and sync) — nesting, inheritance by child tasks and by the
/// work backends run, `ParallelConfig.current`, and argument checks on entry.
@Suite("withParallelConfig: the task-local configuration scope")
struct ConfigScopeTests {
    static func isEmpty(_ config: ParallelConfig) -> Bool {
        config.backend == nil && config.nJobs == nil && config.verbose == nil && config.tempFolder == nil
            && config.maxNbytes == nil && config.mmapMode == nil && config.prefer == nil && config.require == nil
            && config.innerMaxNumThreads == nil && config.nestingLevel == 0
    }

    @Test("outside any scope every property of ParallelConfig.current is nil")
    func emptyOutsideScopes() {
        #expect(Self.isEmpty(ParallelConfig.current))
    }

    @Test("a scope sets what it is given, and is gone after its body")
    func setsValues() async throws {
        let seen = try await withParallelConfig(
            backend: "threading", nJobs: 3, verbose: 5, tempFolder: "/tmp/pk-scope", maxNbytes: "2K", mmapMode: .rPlus,
            prefer: .threads, require: .sharedMemory, innerMaxNumThreads: 2
        ) { () async -> ParallelConfig in ParallelConfig.current }
        #expect(seen.backend == "threading")
        #expect(seen.nJobs == 3)
        #expect(seen.verbose == 5)
        #expect(seen.tempFolder == "/tmp/pk-scope")
        #expect(seen.maxNbytes == "2K")
        #expect(seen.mmapMode == .rPlus)
        #expect(seen.prefer == .threads)
        #expect(seen.require == .sharedMemory)
        #expect(seen.innerMaxNumThreads == 2)
        #expect(seen.nestingLevel == 0)
        #expect(Self.isEmpty(ParallelConfig.current))
    }

    @Test("test_parallel_config_nested: an inner scope overrides only what it sets")
    func nesting() async throws {
        try await withParallelConfig(backend: "threading", verbose: 100) {
            try await withParallelConfig(nJobs: 2) {
                #expect(ParallelConfig.current.backend == "threading")
                #expect(ParallelConfig.current.verbose == 100)
                #expect(ParallelConfig.current.nJobs == 2)
                try await withParallelConfig(backend: "sequential", verbose: 3) { () async in
                    #expect(ParallelConfig.current.backend == "sequential")
                    #expect(ParallelConfig.current.verbose == 3)
                    #expect(ParallelConfig.current.nJobs == 2)
                }
                #expect(ParallelConfig.current.backend == "threading")
                #expect(ParallelConfig.current.verbose == 100)
            }
            #expect(ParallelConfig.current.nJobs == nil)
        }
    }

    @Test("a scope returns its body's value and rethrows its body's error")
    func valueAndError() async throws {
        #expect(try await withParallelConfig(nJobs: 2) { () async in 42 } == 42)
        struct BodyError: Error, Equatable {}
        await #expect(throws: BodyError()) {
            try await withParallelConfig(nJobs: 2) { () async throws in throw BodyError() }
        }
        #expect(Self.isEmpty(ParallelConfig.current))
    }

    @Test("the synchronous overload works from synchronous code, and nests with itself")
    func synchronousOverload() throws {
        let values: (String?, Int?, Int?) = try withParallelConfig(backend: "threading", nJobs: 4) {
            try withParallelConfig(verbose: 2) {
                (
                    ParallelConfig.current.backend?.description, ParallelConfig.current.nJobs,
                    ParallelConfig.current.verbose
                )
            }
        }
        #expect(values.0 == "threading")
        #expect(values.1 == 4)
        #expect(values.2 == 2)
        #expect(Self.isEmpty(ParallelConfig.current))
        #expect(throws: ParallelError.self) { try withParallelConfig(nJobs: 0) { () } }
    }

    @Test("an async scope inside a synchronous one inherits it")
    func syncThenAsync() async throws {
        let task: Task<Int?, Never> = try withParallelConfig(nJobs: 5) {
            Task { ParallelConfig.current.nJobs }
        }
        #expect(await task.value == 5)
    }

    @Test("child tasks inherit the scope: async let, task groups and Task {}")
    func childTasksInherit() async throws {
        try await withParallelConfig(nJobs: 6, tempFolder: "/tmp/inherit") {
            async let child = ParallelConfig.current.nJobs
            #expect(await child == 6)
            let group = await withTaskGroup(of: String?.self) { group in
                for _ in 0..<4 { group.addTask { ParallelConfig.current.tempFolder } }
                return await group.reduce(into: [String?]()) { $0.append($1) }
            }
            #expect(group == Array(repeating: "/tmp/inherit", count: 4))
            let unstructured = Task { ParallelConfig.current.nJobs }
            #expect(await unstructured.value == 6)
        }
    }

    @Test("Task.detached and raw threads do not inherit the scope")
    func detachedDoesNotInherit() async throws {
        try await withParallelConfig(nJobs: 6) {
            let detached = Task.detached { ParallelConfig.current.nJobs }
            #expect(await detached.value == nil)
            let fromThread = await withCheckedContinuation { (continuation: CheckedContinuation<Int?, Never>) in
                Thread { continuation.resume(returning: ParallelConfig.current.nJobs) }.start()
            }
            #expect(fromThread == nil)
        }
    }

    @Test("tasks run by the threading backend see the scope (re-bound on its threads)")
    func backendWorkInherits() async throws {
        let observed = try await withParallelConfig(verbose: 0, tempFolder: "/tmp/pk-workers", mmapMode: .c) {
            try await Parallel(nJobs: 2, batchSize: 1)(
                (0..<8).map { _ in
                    Delayed { () -> (String?, MmapMode?, Int, String) in
                        let config = ParallelConfig.current
                        return (config.tempFolder, config.mmapMode, config.nestingLevel, currentThreadName())
                    }
                })
        }
        for (folder, mode, level, thread) in observed {
            #expect(folder == "/tmp/pk-workers")
            #expect(mode == .c)
            #expect(level == 1)
            #expect(thread == "pk-threading")
        }
    }

    @Test("tasks run sequentially (nJobs 1) see the scope unchanged")
    func sequentialWorkInherits() async throws {
        let observed = try await withParallelConfig(backend: "threading", tempFolder: "/tmp/seq") {
            try await Parallel()(
                (0..<3).map { _ in Delayed { (ParallelConfig.current.tempFolder, ParallelConfig.current.backend) } })
        }
        #expect(observed.allSatisfy { $0.0 == "/tmp/seq" && $0.1 == "threading" })
    }

    // MARK: Checks on entry

    @Test("nJobs 0 is .invalidArgument on entry; the body never runs")
    func zeroNJobs() async {
        let error = await #expect(throws: ParallelError.self) {
            try await withParallelConfig(nJobs: 0) { () async in Issue.record("the body ran") }
        }
        #expect(error?.code == .invalidArgument)
    }

    @Test("an unknown backend name is .unknownBackend on entry; the body never runs")
    func unknownBackend() async {
        let error = await #expect(throws: ParallelError.self) {
            try await withParallelConfig(backend: "unit-testing") { () async in Issue.record("the body ran") }
        }
        #expect(error?.code == .unknownBackend)
        #expect(error?.description.contains("threading") == true)
    }

    @Test(
        "other bad scope arguments are .invalidArgument on entry",
        arguments: [
            ("verbose -1", ScopeArgs(verbose: -1)),
            ("innerMaxNumThreads 0", ScopeArgs(innerMaxNumThreads: 0)),
            ("maxNbytes 12Q", ScopeArgs(maxNbytes: "12Q")),
            ("prefer .processes + require .sharedMemory", ScopeArgs(prefer: .processes, require: .sharedMemory)),
        ])
    func badScopeArguments(label: String, args: ScopeArgs) async {
        let error = await #expect(throws: ParallelError.self) {
            try await withParallelConfig(
                verbose: args.verbose, maxNbytes: args.maxNbytes, prefer: args.prefer, require: args.require,
                innerMaxNumThreads: args.innerMaxNumThreads
            ) { () async in Issue.record("the body ran") }
        }
        #expect(error?.code == .invalidArgument, "\(label)")
    }

    @Test("a require in an outer scope and a prefer .processes in an inner one conflict on entry")
    func conflictAcrossScopes() async throws {
        try await withParallelConfig(require: .sharedMemory) { () async -> Void in
            await #expect(throws: ParallelError.self) {
                try await withParallelConfig(prefer: .processes) { () async in Issue.record("the body ran") }
            }
        }
    }

    @Test("the option types are Hashable: a literal backend equals .named")
    func optionEquality() {
        #expect(ParallelConfig.current.backend == nil)
        let literal: BackendChoice = "loky"
        #expect(literal == .named("loky"))
        #expect(Set([literal, .named("loky")]).count == 1)
    }
}

struct ScopeArgs: Sendable {
    var verbose: Int? = nil
    var maxNbytes: MaxNbytes? = nil
    var prefer: Prefer? = nil
    var require: Require? = nil
    var innerMaxNumThreads: Int? = nil
}
