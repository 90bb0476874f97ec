import ParallelCore

/// The checks `Parallel` and `withParallelConfig` share, with one message each, so the two entry
/// points cannot drift apart.
package enum ArgumentChecks {
    /// `nJobs` 0 has no meaning (joblib's ValueError).
    package static func nJobs(_ nJobs: Int?) throws {
        if nJobs == 0 {
            throw ParallelError.invalid(
                "nJobs", "0 has no meaning", fix: "Use a positive count, -1 for all CPUs, or -2 for all but one.")
        }
    }

    /// `verbose` is 0 or more.
    package static func verbose(_ verbose: Int?) throws {
        if let verbose, verbose < 0 {
            throw ParallelError.invalid("verbose", "\(verbose) is below 0", fix: "Use 0 (silent) or more.")
        }
    }

    /// `prefer: .processes` with `require: .sharedMemory` is inconsistent, as in joblib.
    package static func hints(prefer: Prefer?, require: Require?) throws {
        if prefer == .processes && require == .sharedMemory {
            throw ParallelError.invalid(
                "prefer/require", "prefer: .processes and require: .sharedMemory are inconsistent settings",
                fix: "Worker processes cannot share the caller's memory; drop one of the two.")
        }
    }
}
