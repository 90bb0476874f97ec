import ParallelCore

/// The number of workers `nJobs` stands for, as joblib's `effective_n_jobs`.
///
/// `nil` takes the enclosing scope's value, else 1; `-1` is every CPU (``cpuCount()``), `-2` all
/// but one, and below that `cpuCount() + 1 + nJobs`, at least 1; a positive value is used as is,
/// even above the CPU count (oversubscription, useful for I/O).
/// - Throws: ``ParallelError`` `.invalidArgument` for 0.
public func effectiveNJobs(_ nJobs: Int?) throws -> Int {
    try NJobsRule.effective(nJobs ?? ScopeStorage.current.nJobs ?? 1)
}

/// joblib's arithmetic for `n_jobs`.
package enum NJobsRule {
    /// - Parameter cpus: the CPU count, asked for only when `nJobs` is negative (it costs a
    ///   system call).
    package static func effective(_ nJobs: Int, cpus: @autoclosure () -> Int = cpuCount()) throws -> Int {
        try ArgumentChecks.nJobs(nJobs)
        if nJobs < 0 { return max(cpus() + 1 + nJobs, 1) }
        return nJobs
    }
}
