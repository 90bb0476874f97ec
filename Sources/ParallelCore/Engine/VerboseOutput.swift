/// Where joblib's verbose lines go: standard error, or standard output from verbose 50 and for
/// notices joblib prints there; each with the `[Parallel(n_jobs=…)]: ` prefix.
package enum VerboseOutput {
    /// Prints `line` if `verbose` is above 0.
    package static func write(_ line: ProgressLine, verbose: Int, nJobsLabel: Int) {
        guard verbose > 0 else { return }
        let text = "[Parallel(n_jobs=\(nJobsLabel))]: \(line.text)"
        if verbose >= 50 || line.destination == .standardOutput {
            print(text)
        } else {
            StandardError.write(text + "\n")
        }
    }
}
