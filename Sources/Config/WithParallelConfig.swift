import ParallelCore

/// Runs `body` with a configuration scope: joblib's `parallel_config`.
///
/// Only the arguments given override the enclosing scope; nested scopes inherit the rest. Calls
/// to `Parallel` inside `body` (and in its child tasks, and in the work backends run for them)
/// use these values where the call does not set its own. The arguments are checked on entry,
/// before `body` runs.
///
/// ```swift
/// try await withParallelConfig(backend: "threading", nJobs: 4) {
///     try await Parallel()(tasks)      // 4 threads
/// }
/// ```
///
/// - Throws: ``ParallelError`` `.invalidArgument` (nJobs 0, a verbose below 0, an
///   innerMaxNumThreads below 1, a malformed maxNbytes, prefer processes with require shared
///   memory, a retry policy with no attempt or a negative backoff) or `.unknownBackend`, before `body` runs; then whatever `body` throws.
public func withParallelConfig<T>(
    backend: BackendChoice? = nil, nJobs: Int? = nil, verbose: Int? = nil,
    tempFolder: String? = nil, maxNbytes: MaxNbytes? = nil, mmapMode: MmapMode? = nil,
    prefer: Prefer? = nil, require: Require? = nil, innerMaxNumThreads: Int? = nil,
    retry: RetryPolicy? = nil, progress: ParallelProgress? = nil,
    isolation: isolated (any Actor)? = #isolation,
    _ body: () async throws -> T
) async throws -> T {
    let merged = try ScopeMerge.merge(
        ScopeStorage.current, backend: backend, nJobs: nJobs, verbose: verbose, tempFolder: tempFolder,
        maxNbytes: maxNbytes, mmapMode: mmapMode, prefer: prefer, require: require,
        innerMaxNumThreads: innerMaxNumThreads, retry: retry, progress: progress)
    return try await ScopeStorage.$current.withValue(merged, operation: body, isolation: isolation)
}

/// The synchronous form of the `async` `withParallelConfig`: the same options and the same scope,
/// for code that is not async (a synchronous test, a command-line entry point).
public func withParallelConfig<T>(
    backend: BackendChoice? = nil, nJobs: Int? = nil, verbose: Int? = nil,
    tempFolder: String? = nil, maxNbytes: MaxNbytes? = nil, mmapMode: MmapMode? = nil,
    prefer: Prefer? = nil, require: Require? = nil, innerMaxNumThreads: Int? = nil,
    retry: RetryPolicy? = nil, progress: ParallelProgress? = nil,
    _ body: () throws -> T
) throws -> T {
    let merged = try ScopeMerge.merge(
        ScopeStorage.current, backend: backend, nJobs: nJobs, verbose: verbose, tempFolder: tempFolder,
        maxNbytes: maxNbytes, mmapMode: mmapMode, prefer: prefer, require: require,
        innerMaxNumThreads: innerMaxNumThreads, retry: retry, progress: progress)
    return try ScopeStorage.$current.withValue(merged, operation: body)
}

/// Checks a scope's arguments and lays them over the enclosing values.
package enum ScopeMerge {
    package static func merge(
        _ outer: ScopeValues, backend: BackendChoice?, nJobs: Int?, verbose: Int?, tempFolder: String?,
        maxNbytes: MaxNbytes?, mmapMode: MmapMode?, prefer: Prefer?, require: Require?,
        innerMaxNumThreads: Int?, retry: RetryPolicy? = nil, progress: ParallelProgress? = nil
    ) throws -> ScopeValues {
        try ArgumentChecks.nJobs(nJobs)
        try ArgumentChecks.verbose(verbose)
        if let innerMaxNumThreads, innerMaxNumThreads < 1 {
            throw ParallelError.invalid(
                "innerMaxNumThreads", "\(innerMaxNumThreads) is below 1", fix: "Use 1 or more, or leave it unset.")
        }
        if case .named(let name) = backend, !BackendRegistry.shared.isKnown(name) {
            throw BackendRegistry.unknown(name, known: BackendRegistry.shared.names())
        }
        _ = try maxNbytes?.resolve()
        try retry?.validate()
        var merged = outer
        if let backend { merged.backend = backend }
        if let nJobs { merged.nJobs = nJobs }
        if let verbose { merged.verbose = verbose }
        if let tempFolder { merged.tempFolder = tempFolder }
        if let maxNbytes { merged.maxNbytes = maxNbytes }
        if let mmapMode { merged.mmapMode = mmapMode }
        if let prefer { merged.prefer = prefer }
        if let require { merged.require = require }
        if let innerMaxNumThreads { merged.innerMaxNumThreads = innerMaxNumThreads }
        if let retry { merged.retry = retry }
        if let progress { merged.progress = ScopedProgress(progress) }
        try ArgumentChecks.hints(prefer: merged.prefer, require: merged.require)
        return merged
    }
}
