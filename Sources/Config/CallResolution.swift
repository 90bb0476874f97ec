import ParallelCore

/// The arguments of one `Parallel` value, before resolution: the one definition of the call's
/// options. `Parallel` stores this value and forwards its public properties to it, so a new option
/// is added here, in `Parallel.init`, and where it is resolved below.
package struct CallArguments: Sendable {
    package var nJobs: Int?
    package var backend: BackendChoice?
    package var verbose: Int?
    package var timeout: Duration?
    package var preDispatch: PreDispatch
    package var batchSize: BatchSize
    package var tempFolder: String?
    package var maxNbytes: MaxNbytes?
    package var mmapMode: MmapMode?
    package var prefer: Prefer?
    package var require: Require?
    package var retry: RetryPolicy?
    package var progress: ParallelProgress?

    package init(
        nJobs: Int? = nil, backend: BackendChoice? = nil, verbose: Int? = nil, timeout: Duration? = nil,
        preDispatch: PreDispatch = "2*n_jobs", batchSize: BatchSize = .auto, tempFolder: String? = nil,
        maxNbytes: MaxNbytes? = nil, mmapMode: MmapMode? = nil, prefer: Prefer? = nil, require: Require? = nil,
        retry: RetryPolicy? = nil, progress: ParallelProgress? = nil
    ) {
        self.nJobs = nJobs
        self.backend = backend
        self.verbose = verbose
        self.timeout = timeout
        self.preDispatch = preDispatch
        self.batchSize = batchSize
        self.tempFolder = tempFolder
        self.maxNbytes = maxNbytes
        self.mmapMode = mmapMode
        self.prefer = prefer
        self.require = require
        self.retry = retry
        self.progress = progress
    }
}

/// Which backend a call gets, and why: the pure half of resolution, tested rule by rule.
package struct BackendDecision: Sendable, Equatable {
    /// The backend chosen.
    package var choice: BackendChoice
    /// Whether the choice replaced a scope's process backend because of `require: .sharedMemory`.
    package var replacedScopeBackend: BackendChoice?
}

/// Resolves a call: arguments over the scope over the defaults, then the backend, the worker
/// count, the pre-dispatch window and the task scope. Pure apart from reading the registry and
/// the CPU count; runs before any input is taken, so bad arguments fail before anything runs.
package enum CallResolution {
    /// The documented precedence (README, "joblib → Swift"), highest first: an explicit `backend:` on `Parallel`; `require` (from
    /// `Parallel`, else the scope); the scope's backend; `prefer` (from `Parallel`, else the
    /// scope); the registered default.
    ///
    /// - Parameter supportsSharedMemory: looks a choice's capability up (it may instantiate it).
    package static func decideBackend(
        explicit: BackendChoice?, scope: ScopeValues, prefer argumentPrefer: Prefer?,
        require argumentRequire: Require?, defaultName: String,
        supportsSharedMemory: (BackendChoice) throws -> Bool,
        usesThreads: (BackendChoice) throws -> Bool
    ) throws -> BackendDecision {
        let prefer = argumentPrefer ?? scope.prefer
        let require = argumentRequire ?? scope.require
        try ArgumentChecks.hints(prefer: prefer, require: require)
        if let explicit {
            if require == .sharedMemory, try !supportsSharedMemory(explicit) {
                let origin = argumentRequire == .sharedMemory ? "this call" : "the enclosing withParallelConfig scope"
                throw ParallelError.invalid(
                    "backend", "'\(explicit)' does not share the caller's memory, but \(origin) requires it",
                    fix: "Use \"threading\" (or another in-process backend), or drop require: .sharedMemory.")
            }
            return BackendDecision(choice: explicit)
        }
        if require == .sharedMemory {
            if let scoped = scope.backend, try supportsSharedMemory(scoped) {
                return BackendDecision(choice: scoped)
            }
            return BackendDecision(choice: .named(BuiltinBackendName.threading), replacedScopeBackend: scope.backend)
        }
        if let scoped = scope.backend { return BackendDecision(choice: scoped) }
        let fallback = BackendChoice.named(defaultName)
        switch prefer {
        case .processes where try usesThreads(fallback):
            return BackendDecision(choice: .named(BuiltinBackendName.process))
        case .threads where try !usesThreads(fallback):
            return BackendDecision(choice: .named(BuiltinBackendName.threading))
        default:
            return BackendDecision(choice: fallback)
        }
    }

    /// Resolves everything a call needs.
    /// - Parameters:
    ///   - arguments: the `Parallel` value's arguments.
    ///   - scope: the current configuration scope.
    ///   - tasksArePortable: whether the tasks are `ParallelJob`s (they can cross processes).
    ///   - jobType: the job type, when the tasks are `ParallelJob`s; an out-of-process backend
    ///     checks it here, before any input is taken or any worker starts.
    package static func plan(
        _ arguments: CallArguments, scope: ScopeValues, tasksArePortable: Bool,
        jobType: (any ParallelJob.Type)? = nil, registry: BackendRegistry = .shared
    ) throws -> CallPlan {
        if scope.callDepth >= ScopeValues.maximumCallDepth {
            throw ParallelError.invalid(
                "nesting", "Parallel calls are nested \(scope.callDepth) deep",
                fix: "This looks like unbounded recursion of Parallel calls; bound the recursion.")
        }
        try ArgumentChecks.verbose(arguments.verbose)
        if let timeout = arguments.timeout, timeout <= .zero {
            throw ParallelError.invalid(
                "timeout", "\(timeout) is not positive", fix: "Use a positive duration, or nil.")
        }
        try arguments.batchSize.validate()
        let retry = arguments.retry ?? scope.retry ?? .never
        try retry.validate()
        let maxNbytes = try (arguments.maxNbytes ?? scope.maxNbytes ?? .standard).resolve()
        // A temp folder the call names is checked for every backend, also those that never use it
        // (threads, one job): a bad one is an error, never silently ignored (issue 7).
        if let folder = arguments.tempFolder ?? scope.tempFolder, !folder.isEmpty {
            try TempFolderCheck.check(folder)
        }

        var instances: [BackendChoice: any ParallelBackend] = [:]
        func instance(_ choice: BackendChoice) throws -> any ParallelBackend {
            if let made = instances[choice] { return made }
            let made: any ParallelBackend
            switch choice {
            case .instance(let backend): made = backend
            case .named(let name): made = try registry.make(name)
            }
            instances[choice] = made
            return made
        }
        let decision = try decideBackend(
            explicit: arguments.backend, scope: scope, prefer: arguments.prefer, require: arguments.require,
            defaultName: registry.defaultName,
            supportsSharedMemory: { try instance($0).capabilities.supportsSharedMemory },
            usesThreads: { try instance($0).capabilities.usesThreads })
        let backend = try instance(decision.choice)

        let requested = arguments.nJobs ?? scope.nJobs ?? 1
        let resolved = try NJobsRule.effective(requested)
        let nJobs = resolved == 1 ? 1 : max(1, backend.effectiveNJobs(resolved))
        let verbose = arguments.verbose ?? scope.verbose ?? 0
        let preDispatch = try arguments.preDispatch.resolve(nJobs: nJobs)

        var notices: [String] = []
        if let replaced = decision.replacedScopeBackend, verbose >= 10 {
            let replacedName = (try? instance(replaced).displayName) ?? replaced.description
            notices.append(
                "Using \(backend.displayName) as backend instead of \(replacedName) as the latter does not "
                    + "provide shared memory semantics.")
        }
        if nJobs > 1 {
            if backend.capabilities.runsOutOfProcess && !tasksArePortable {
                throw ParallelError(
                    .notSerializable,
                    "the '\(decision.choice)' backend runs tasks in worker processes, and a Delayed closure cannot "
                        + "leave this process. Describe the work as a ParallelJob (a Codable struct with run()), "
                        + "or pass require: .sharedMemory to run it on threads.")
            }
            if backend.capabilities.runsOutOfProcess, let jobType {
                try backend.validate(jobType: jobType)
            }
            if scope.innerMaxNumThreads != nil && !backend.capabilities.supportsInnerMaxNumThreads {
                throw ParallelError.invalid(
                    "innerMaxNumThreads",
                    "the '\(decision.choice)' backend runs tasks on threads of this process and cannot limit "
                        + "the native thread pools of its workers",
                    fix: "Use it with a process backend (\"process\"), or leave it unset.")
            }
        } else if arguments.timeout != nil {
            StandardError.write(
                "[Parallel(n_jobs=\(requested))]: warning: timeout is not applied when nJobs resolves to 1 "
                    + "(the tasks run in the calling task, as in joblib).\n")
        }

        let context = BackendCallContext(
            nJobs: nJobs, verbose: verbose, timeout: arguments.timeout,
            tempFolder: arguments.tempFolder ?? scope.tempFolder, maxNbytes: maxNbytes,
            mmapMode: arguments.mmapMode ?? scope.mmapMode ?? .r, innerMaxNumThreads: scope.innerMaxNumThreads)
        return CallPlan(
            backend: backend, nJobs: nJobs, nJobsLabel: requested, verbose: verbose,
            timeout: nJobs > 1 ? arguments.timeout : nil, preDispatch: preDispatch, batchSize: arguments.batchSize,
            context: context, taskScope: scope.nested(parallel: nJobs > 1), notices: notices, retry: retry,
            progress: arguments.progress ?? scope.progress?.value ?? .none)
    }
}
