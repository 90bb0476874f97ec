import ParallelCore

/// The configuration in force for the current task: the merged values of every enclosing
/// `withParallelConfig` scope, joblib's `parallel_config`.
///
/// It holds only what scopes set: outside any scope every property is `nil`; the defaults
/// (`"1M"`, `.r`, one job) are applied when a call resolves its arguments.
///
/// - Concurrency: task-local. Child tasks and the work backends run for a call inherit it (jobs in
///   worker processes included); `Task.detached` and raw threads do not.
public struct ParallelConfig: Sendable {
    let values: ScopeValues

    /// The innermost scope's merged values.
    public static var current: ParallelConfig { ParallelConfig(values: ScopeStorage.current) }

    /// The backend a scope chose.
    public var backend: BackendChoice? { values.backend }
    /// The number of jobs a scope set.
    public var nJobs: Int? { values.nJobs }
    /// The verbosity a scope set.
    public var verbose: Int? { values.verbose }
    /// The folder for shared arrays a scope set.
    public var tempFolder: String? { values.tempFolder }
    /// The shared-array threshold a scope set.
    public var maxNbytes: MaxNbytes? { values.maxNbytes }
    /// The mapping mode a scope set.
    public var mmapMode: MmapMode? { values.mmapMode }
    /// The soft backend hint a scope set.
    public var prefer: Prefer? { values.prefer }
    /// The hard backend constraint a scope set.
    public var require: Require? { values.require }
    /// The thread limit for native pools in worker processes a scope set.
    public var innerMaxNumThreads: Int? { values.innerMaxNumThreads }
    /// The retry policy a scope set.
    public var retry: RetryPolicy? { values.retry }
    /// The progress display a scope set.
    public var progress: ParallelProgress? { values.progress?.value }
    /// joblib's nesting level: 0 at the top, 1 inside the tasks of a parallel call, and so on.
    public var nestingLevel: Int { values.nestingLevel }
}
