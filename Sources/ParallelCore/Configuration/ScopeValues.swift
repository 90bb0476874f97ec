import Synchronization

/// The merged values of the enclosing `withParallelConfig` scopes, plus the nesting bookkeeping
/// that travels with them into backends' work (threads and worker processes alike).
///
/// `ParallelConfig` (module `ParallelConfiguration`) is the public view of this storage. It lives
/// here, in the core, because the engine binds it around every batch and process workers rebind it.
package struct ScopeValues: Sendable, Equatable {
    package var backend: BackendChoice?
    package var nJobs: Int?
    package var verbose: Int?
    package var tempFolder: String?
    package var maxNbytes: MaxNbytes?
    package var mmapMode: MmapMode?
    package var prefer: Prefer?
    package var require: Require?
    package var innerMaxNumThreads: Int?
    /// The retry policy a scope set. It stays in this process: nested calls inside worker
    /// processes do not see it.
    package var retry: RetryPolicy?
    /// The progress display a scope set (in this process only, like `retry`).
    package var progress: ScopedProgress?
    /// joblib's `nesting_level`: 0 at the top, +1 inside each parallel (not sequential) call's tasks.
    package var nestingLevel: Int
    /// How many `Parallel` calls (sequential ones included) enclose the current task; bounds
    /// runaway recursion with an error instead of a stack overflow or a thread bomb.
    package var callDepth: Int

    package init(
        backend: BackendChoice? = nil, nJobs: Int? = nil, verbose: Int? = nil, tempFolder: String? = nil,
        maxNbytes: MaxNbytes? = nil, mmapMode: MmapMode? = nil, prefer: Prefer? = nil,
        require: Require? = nil, innerMaxNumThreads: Int? = nil, retry: RetryPolicy? = nil,
        progress: ParallelProgress? = nil, nestingLevel: Int = 0, callDepth: Int = 0
    ) {
        self.backend = backend
        self.nJobs = nJobs
        self.verbose = verbose
        self.tempFolder = tempFolder
        self.maxNbytes = maxNbytes
        self.mmapMode = mmapMode
        self.prefer = prefer
        self.require = require
        self.innerMaxNumThreads = innerMaxNumThreads
        self.retry = retry
        self.progress = progress.map(ScopedProgress.init)
        self.nestingLevel = nestingLevel
        self.callDepth = callDepth
    }

    /// The deepest `Parallel` call nesting allowed before a call fails with `.invalidArgument`.
    package static let maximumCallDepth = 64

    /// The scope that tasks of a call see, by joblib's nesting rule (`get_nested_backend`): one
    /// level below a parallel call, threading with nJobs unset (so 1 unless the nested call names
    /// one); two levels and deeper, sequential. A call that ran sequentially (nJobs 1) passes the
    /// scope on unchanged, as joblib's `SequentialBackend` does, except for the call depth.
    package func nested(parallel: Bool) -> ScopeValues {
        var inner = self
        inner.callDepth += 1
        guard parallel else { return inner }
        inner.nestingLevel += 1
        inner.backend = .named(inner.nestingLevel == 1 ? BuiltinBackendName.threading : BuiltinBackendName.sequential)
        inner.nJobs = nil
        // Thread limits are applied by the level that starts workers (as environment variables);
        // a nested call must not try to apply them again.
        inner.innerMaxNumThreads = nil
        return inner
    }
}

extension ScopeValues: Codable {
    private enum CodingKeys: String, CodingKey {
        case backend, nJobs, verbose, tempFolder, maxNbytes, mmapMode, prefer, require
        case innerMaxNumThreads, nestingLevel, callDepth
    }

    /// Decodes a scope sent to a worker process.
    package init(from decoder: any Decoder) throws {
        let c = try decoder.container(keyedBy: CodingKeys.self)
        backend = try c.decodeIfPresent(String.self, forKey: .backend).map(BackendChoice.named)
        nJobs = try c.decodeIfPresent(Int.self, forKey: .nJobs)
        verbose = try c.decodeIfPresent(Int.self, forKey: .verbose)
        tempFolder = try c.decodeIfPresent(String.self, forKey: .tempFolder)
        // -1 stands for `.disabled` (see encode).
        maxNbytes = try c.decodeIfPresent(Int.self, forKey: .maxNbytes).map {
            $0 < 0 ? .disabled : MaxNbytes(integerLiteral: $0)
        }
        mmapMode = try c.decodeIfPresent(MmapMode.self, forKey: .mmapMode)
        prefer = try c.decodeIfPresent(Prefer.self, forKey: .prefer)
        require = try c.decodeIfPresent(Require.self, forKey: .require)
        innerMaxNumThreads = try c.decodeIfPresent(Int.self, forKey: .innerMaxNumThreads)
        retry = nil
        progress = nil
        nestingLevel = try c.decode(Int.self, forKey: .nestingLevel)
        callDepth = try c.decode(Int.self, forKey: .callDepth)
    }

    /// Encodes the scope for a worker process. A backend given as an instance cannot travel and
    /// is left out; the engine's nested scopes always name their backend.
    package func encode(to encoder: any Encoder) throws {
        var c = encoder.container(keyedBy: CodingKeys.self)
        if case .named(let name) = backend { try c.encode(name, forKey: .backend) }
        try c.encodeIfPresent(nJobs, forKey: .nJobs)
        try c.encodeIfPresent(verbose, forKey: .verbose)
        try c.encodeIfPresent(tempFolder, forKey: .tempFolder)
        if let maxNbytes, let bytes = try? maxNbytes.resolve() ?? -1 {
            try c.encode(bytes, forKey: .maxNbytes)
        }
        try c.encodeIfPresent(mmapMode, forKey: .mmapMode)
        try c.encodeIfPresent(prefer, forKey: .prefer)
        try c.encodeIfPresent(require, forKey: .require)
        try c.encodeIfPresent(innerMaxNumThreads, forKey: .innerMaxNumThreads)
        try c.encode(nestingLevel, forKey: .nestingLevel)
        try c.encode(callDepth, forKey: .callDepth)
    }
}

/// Where the current scope lives: a task-local, so child tasks inherit it and `Task.detached`
/// and raw threads do not (backends rebind it around each batch).
package enum ScopeStorage {
    @TaskLocal package static var current = ScopeValues()
}

/// A scope's ``ParallelProgress``, comparable by identity so that scopes stay `Equatable` (a
/// handler closure cannot be compared).
package struct ScopedProgress: Sendable, Equatable {
    package let value: ParallelProgress
    private let identity: Int

    private static let counter = Atomic<Int>(0)

    package init(_ value: ParallelProgress) {
        self.value = value
        self.identity = Self.counter.wrappingAdd(1, ordering: .relaxed).newValue
    }

    package static func == (lhs: ScopedProgress, rhs: ScopedProgress) -> Bool { lhs.identity == rhs.identity }
}
