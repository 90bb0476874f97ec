import ParallelConfiguration
@_spi(Locking) import ParallelCore
import ParallelKit
import Testing

/// The precedence of backend / require / prefer (README, "joblib → Swift"), highest first: an explicit
/// `backend:` on `Parallel`; `require` (from `Parallel`, else the scope); the scope's `backend`;
/// `prefer` (from `Parallel`, else the scope); the registered default. Tested as a decision
/// (``CallResolution/decideBackend``) and as a whole plan on stub backends that are never
/// started, then end to end on the built-in names (process backends are never started here).
@Suite("Precedence: backend, require, prefer, scope, default")
struct PrecedenceTests {
    /// One row of the table.
    struct Row: Sendable, CustomTestStringConvertible {
        var label: String
        var explicit: BackendChoice? = nil
        var scope = ScopeValues()
        var prefer: Prefer? = nil
        var require: Require? = nil
        var defaultName = "threading"
        /// The chosen backend name, or nil when the decision must be `.invalidArgument`.
        var expected: String?
        var replaced: String? = nil
        var testDescription: String { label }
    }

    static let capabilities: [String: BackendCapabilities] = [
        "threading": StubBackend.threadsCaps,
        "sequential": StubBackend.threadsCaps,
        "process": StubBackend.processCaps,
        "loky": StubBackend.processCaps,
        "multiprocessing": StubBackend.processCaps,
        "shared-custom": BackendCapabilities(usesThreads: false, supportsSharedMemory: true, runsOutOfProcess: false),
        "remote": BackendCapabilities(usesThreads: false, supportsSharedMemory: false, runsOutOfProcess: false),
    ]

    static let rows: [Row] = [
        Row(label: "nothing set: the registered default", expected: "threading"),
        Row(label: "nothing set, a custom default", defaultName: "remote", expected: "remote"),
        Row(label: "prefer threads with the threading default", prefer: .threads, expected: "threading"),
        Row(
            label: "prefer processes with the threading default selects process", prefer: .processes,
            expected: "process"),
        Row(
            label: "prefer threads with a process-like default selects threading", prefer: .threads,
            defaultName: "remote", expected: "threading"),
        Row(
            label: "prefer processes with a process-like default keeps it", prefer: .processes, defaultName: "remote",
            expected: "remote"),
        Row(label: "require sharedMemory alone gives threading", require: .sharedMemory, expected: "threading"),
        Row(
            label: "require sharedMemory with a process-like default gives threading", require: .sharedMemory,
            defaultName: "remote", expected: "threading"),
        Row(label: "explicit backend beats prefer", explicit: "process", prefer: .threads, expected: "process"),
        Row(
            label: "explicit backend beats the scope's backend", explicit: "threading",
            scope: ScopeValues(backend: "process"), expected: "threading"),
        Row(
            label: "explicit threading with require is fine", explicit: "threading", require: .sharedMemory,
            expected: "threading"),
        Row(
            label: "explicit shared-memory custom with require is kept", explicit: "shared-custom",
            require: .sharedMemory, expected: "shared-custom"),
        Row(
            label: "the scope's backend beats prefer threads", scope: ScopeValues(backend: "process"), prefer: .threads,
            expected: "process"),
        Row(
            label: "the scope's backend beats prefer processes", scope: ScopeValues(backend: "threading"),
            prefer: .processes, expected: "threading"),
        Row(
            label: "the scope's backend beats the default", scope: ScopeValues(backend: "sequential"),
            expected: "sequential"),
        Row(
            label: "require beats the scope's process backend: threading", scope: ScopeValues(backend: "process"),
            require: .sharedMemory,
            expected: "threading", replaced: "process"),
        Row(
            label: "a scope's require beats the scope's process backend",
            scope: ScopeValues(backend: "loky", require: .sharedMemory),
            expected: "threading", replaced: "loky"),
        Row(
            label: "require keeps a scope backend that shares memory", scope: ScopeValues(backend: "shared-custom"),
            require: .sharedMemory,
            expected: "shared-custom"),
        Row(
            label: "the argument's prefer beats the scope's", scope: ScopeValues(prefer: .processes), prefer: .threads,
            expected: "threading"),
        Row(
            label: "the scope's prefer applies when the call has none", scope: ScopeValues(prefer: .processes),
            expected: "process"),
        Row(
            label: "require sharedMemory + explicit process is an error", explicit: "process", require: .sharedMemory,
            expected: nil),
        Row(
            label: "require sharedMemory + explicit multiprocessing is an error", explicit: "multiprocessing",
            require: .sharedMemory, expected: nil),
        Row(
            label: "a scope's require + explicit process is an error", explicit: "process",
            scope: ScopeValues(require: .sharedMemory), expected: nil),
        Row(
            label: "prefer processes + require sharedMemory is an error", prefer: .processes, require: .sharedMemory,
            expected: nil),
        Row(
            label: "a scope's prefer processes + require is an error", scope: ScopeValues(prefer: .processes),
            require: .sharedMemory, expected: nil),
        Row(
            label: "prefer processes + a scope's require is an error", scope: ScopeValues(require: .sharedMemory),
            prefer: .processes, expected: nil),
        Row(
            label: "prefer processes + require is an error even with an explicit backend", explicit: "threading",
            prefer: .processes, require: .sharedMemory, expected: nil),
    ]

    @Test("decideBackend follows the documented precedence", arguments: rows)
    func decision(_ row: Row) throws {
        func caps(_ choice: BackendChoice) throws -> BackendCapabilities {
            guard case .named(let name) = choice, let caps = Self.capabilities[name] else {
                throw ParallelError(.unknownBackend, "no stub for \(choice)")
            }
            return caps
        }
        let decide = {
            try CallResolution.decideBackend(
                explicit: row.explicit, scope: row.scope, prefer: row.prefer, require: row.require,
                defaultName: row.defaultName,
                supportsSharedMemory: { try caps($0).supportsSharedMemory }, usesThreads: { try caps($0).usesThreads })
        }
        if let expected = row.expected {
            let decision = try decide()
            #expect(decision.choice == .named(expected))
            #expect(decision.replacedScopeBackend == row.replaced.map(BackendChoice.named))
        } else {
            let error = #expect(throws: ParallelError.self) { try decide() }
            #expect(error?.code == .invalidArgument)
        }
    }

    // MARK: Whole plans on stubs

    @Test("a scope's process backend + require .sharedMemory falls back to threading, keeping the scope's nJobs")
    func fallbackKeepsNJobs() throws {
        let plan = try CallResolution.plan(
            CallArguments(require: .sharedMemory), scope: ScopeValues(backend: "process", nJobs: 3),
            tasksArePortable: false, registry: stubRegistry())
        #expect(plan.backend.displayName == "ThreadingStub")
        #expect(plan.nJobs == 3)
    }

    @Test("at verbose 10 the fallback says which backend replaced which")
    func fallbackNotice() throws {
        let plan = try CallResolution.plan(
            CallArguments(verbose: 10, require: .sharedMemory), scope: ScopeValues(backend: "process", nJobs: 2),
            tasksArePortable: false, registry: stubRegistry())
        #expect(
            plan.notices.contains {
                $0.contains("ThreadingStub") && $0.contains("ProcessStub") && $0.contains("shared memory")
            })
        let quiet = try CallResolution.plan(
            CallArguments(require: .sharedMemory), scope: ScopeValues(backend: "process", nJobs: 2),
            tasksArePortable: false, registry: stubRegistry())
        #expect(quiet.notices.isEmpty)
    }

    @Test("a Delayed on an out-of-process backend with nJobs above 1 is .notSerializable; a ParallelJob is fine")
    func portability() throws {
        let registry = stubRegistry()
        let error = #expect(throws: ParallelError.self) {
            try CallResolution.plan(
                CallArguments(nJobs: 2, backend: "process"), scope: ScopeValues(), tasksArePortable: false,
                registry: registry)
        }
        #expect(error?.code == .notSerializable)
        let jobs = try CallResolution.plan(
            CallArguments(nJobs: 2, backend: "process"), scope: ScopeValues(), tasksArePortable: true,
            registry: registry)
        #expect(jobs.backend.displayName == "ProcessStub")
        let single = try CallResolution.plan(
            CallArguments(nJobs: 1, backend: "process"), scope: ScopeValues(), tasksArePortable: false,
            registry: registry)
        #expect(single.isSequential)
    }

    @Test("prefer .processes sends Delayed tasks to the process backend, which refuses them")
    func preferProcessesWithDelayed() {
        let error = #expect(throws: ParallelError.self) {
            try CallResolution.plan(
                CallArguments(nJobs: 2, prefer: .processes), scope: ScopeValues(), tasksArePortable: false,
                registry: stubRegistry())
        }
        #expect(error?.code == .notSerializable)
    }

    @Test("innerMaxNumThreads from a scope is refused by a backend that cannot apply it")
    func innerMaxNumThreads() throws {
        let registry = stubRegistry()
        let error = #expect(throws: ParallelError.self) {
            try CallResolution.plan(
                CallArguments(nJobs: 2, backend: "threading"), scope: ScopeValues(innerMaxNumThreads: 2),
                tasksArePortable: true,
                registry: registry)
        }
        #expect(error?.code == .invalidArgument)
        let process = try CallResolution.plan(
            CallArguments(nJobs: 2, backend: "process"), scope: ScopeValues(innerMaxNumThreads: 2),
            tasksArePortable: true, registry: registry)
        #expect(process.context.innerMaxNumThreads == 2)
    }

    @Test("memmapping settings: the call beats the scope, the scope beats the defaults (\"1M\", .r)")
    func memmapSettings() throws {
        let registry = stubRegistry()
        let defaults = try CallResolution.plan(
            CallArguments(nJobs: 2), scope: ScopeValues(), tasksArePortable: true, registry: registry)
        #expect(defaults.context.maxNbytes == 1_048_576)
        #expect(defaults.context.mmapMode == .r)
        #expect(defaults.context.tempFolder == nil)
        let scoped = try CallResolution.plan(
            CallArguments(nJobs: 2), scope: ScopeValues(tempFolder: "/tmp/a", maxNbytes: 1, mmapMode: .c),
            tasksArePortable: true,
            registry: registry)
        #expect(scoped.context.maxNbytes == 1)
        #expect(scoped.context.mmapMode == .c)
        #expect(scoped.context.tempFolder == "/tmp/a")
        let explicit = try CallResolution.plan(
            CallArguments(nJobs: 2, tempFolder: "/tmp/b", maxNbytes: "1M", mmapMode: .rPlus),
            scope: ScopeValues(tempFolder: "/tmp/a", maxNbytes: 1, mmapMode: .c), tasksArePortable: true,
            registry: registry)
        #expect(explicit.context.maxNbytes == 1_048_576)
        #expect(explicit.context.mmapMode == .rPlus)
        #expect(explicit.context.tempFolder == "/tmp/b")
        let disabled = try CallResolution.plan(
            CallArguments(nJobs: 2, maxNbytes: .disabled), scope: ScopeValues(), tasksArePortable: true,
            registry: registry)
        #expect(disabled.context.maxNbytes == nil)
    }

    @Test("verbose: the call beats the scope, which beats 0")
    func verbosePrecedence() throws {
        let registry = stubRegistry()
        #expect(
            try CallResolution.plan(
                CallArguments(nJobs: 2), scope: ScopeValues(), tasksArePortable: true, registry: registry
            ).verbose == 0)
        #expect(
            try CallResolution.plan(
                CallArguments(nJobs: 2), scope: ScopeValues(verbose: 5), tasksArePortable: true, registry: registry
            ).verbose == 5)
        #expect(
            try CallResolution.plan(
                CallArguments(nJobs: 2, verbose: 1), scope: ScopeValues(verbose: 5), tasksArePortable: true,
                registry: registry
            ).verbose == 1)
    }

    @Test(
        "pre-dispatch resolves against the effective worker count",
        arguments: [
            ("2*n_jobs", 3, 6 as Int?), ("1.5*n_jobs", 2, 3), (.all, 2, nil), (5, 2, 5),
        ] as [(PreDispatch, Int, Int?)])
    func preDispatchPlan(preDispatch: PreDispatch, nJobs: Int, expected: Int?) throws {
        let plan = try CallResolution.plan(
            CallArguments(nJobs: nJobs, preDispatch: preDispatch), scope: ScopeValues(), tasksArePortable: true,
            registry: stubRegistry())
        #expect(plan.preDispatch == expected)
    }

    @Test("the tasks of a parallel call get the nested scope; a sequential call's tasks keep it")
    func taskScope() throws {
        let registry = stubRegistry()
        let parallel = try CallResolution.plan(
            CallArguments(nJobs: 2), scope: ScopeValues(verbose: 2), tasksArePortable: true, registry: registry)
        #expect(parallel.taskScope.nestingLevel == 1)
        #expect(parallel.taskScope.backend == "threading")
        #expect(parallel.taskScope.verbose == 2)
        let sequential = try CallResolution.plan(
            CallArguments(nJobs: 1), scope: ScopeValues(verbose: 2), tasksArePortable: true, registry: registry)
        #expect(sequential.taskScope.nestingLevel == 0)
        #expect(sequential.taskScope.backend == nil)
    }

    @Test("a call nested deeper than the maximum depth is .invalidArgument")
    func depthLimit() {
        let error = #expect(throws: ParallelError.self) {
            try CallResolution.plan(
                CallArguments(nJobs: 1), scope: ScopeValues(callDepth: ScopeValues.maximumCallDepth),
                tasksArePortable: true,
                registry: stubRegistry())
        }
        #expect(error?.code == .invalidArgument)
    }

    // MARK: End to end on the built-in backends

    @Test("end to end: a scope's process backend + require .sharedMemory runs on threads with the scope's nJobs")
    func endToEndFallback() async throws {
        let observed = try await withParallelConfig(backend: "process", nJobs: 2) {
            try await Parallel(batchSize: 1, require: .sharedMemory)(
                (0..<6).map { i in
                    Delayed { (i, currentThreadName()) }
                })
        }
        #expect(observed.map { $0.0 } == Array(0..<6))
        #expect(observed.allSatisfy { $0.1 == "pk-threading" }, "nJobs 2 was kept: the tasks ran on worker threads")
    }

    @Test("end to end: a scope's require .sharedMemory beats the scope's process backend")
    func endToEndScopeRequire() async throws {
        let observed = try await withParallelConfig(backend: "loky", nJobs: 2, require: .sharedMemory) {
            try await Parallel()((0..<4).map { i in Delayed { (i, currentThreadName()) } })
        }
        #expect(observed.map { $0.0 } == Array(0..<4))
        #expect(observed.allSatisfy { $0.1 == "pk-threading" })
    }

    @Test("end to end: an explicit threading backend beats prefer .processes")
    func endToEndExplicitBeatsPrefer() async throws {
        let observed = try await Parallel(nJobs: 2, backend: "threading", prefer: .processes)(
            (0..<4).map { i in Delayed { (i, currentThreadName()) } })
        #expect(observed.allSatisfy { $0.1 == "pk-threading" })
    }

    @Test("end to end: a scope's threading backend beats prefer .processes")
    func endToEndScopeBeatsPrefer() async throws {
        let observed = try await withParallelConfig(backend: "threading", nJobs: 2) {
            try await Parallel(prefer: .processes)((0..<4).map { i in Delayed { (i, currentThreadName()) } })
        }
        #expect(observed.allSatisfy { $0.1 == "pk-threading" })
    }

    @Test(
        "end to end: prefer .processes with Delayed tasks is refused as .notSerializable (it chose the process backend)"
    )
    func endToEndPreferProcesses() async {
        let error = await #expect(throws: ParallelError.self) {
            try await Parallel(nJobs: 2, prefer: .processes)((0..<4).map { i in delayed { i }() })
        }
        #expect(error?.code == .notSerializable)
    }

    @Test("end to end: a scope's process backend refuses Delayed tasks before taking any input")
    func endToEndScopeProcessWithDelayed() async {
        let pulled = LockedValue(0)
        let input = (0..<10).lazy.map { i -> Delayed<Int> in
            pulled.withLock { $0 += 1 }
            return delayed { i }()
        }
        let error = await #expect(throws: ParallelError.self) {
            try await withParallelConfig(backend: "process", nJobs: 2) { () async throws -> [Int] in
                try await Parallel()(input)
            }
        }
        #expect(error?.code == .notSerializable)
        #expect(pulled.withLock { $0 } == 0)
    }

    @Test("end to end: prefer .threads and require .sharedMemory run on threads")
    func endToEndThreads() async throws {
        for p in [Parallel(nJobs: 2, prefer: .threads), Parallel(nJobs: 2, require: .sharedMemory)] {
            let observed = try await p((0..<4).map { i in Delayed { (i, currentThreadName()) } })
            #expect(observed.map { $0.0 } == Array(0..<4))
            #expect(observed.allSatisfy { $0.1 == "pk-threading" })
        }
    }
}
