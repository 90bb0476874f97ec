/// Where joblib's verbose lines go: standard error, or standard output from verbose 50 and for
/// notices joblib prints there; each with the `[Parallel(n_jobs=…)]: ` prefix.
package enum VerboseOutput {
    /// Prints `line` if `verbose` is above 0.
    ///
    /// With a live progress bar (`above`), a line for standard error is written above the bar so
    /// that neither garbles the other.
    package static func write(_ line: ProgressLine, verbose: Int, nJobsLabel: Int, above bar: ProgressChannel? = nil) {
        guard verbose > 0 else { return }
        let text = "[Parallel(n_jobs=\(nJobsLabel))]: \(line.text)"
        if verbose >= 50 || line.destination == .standardOutput {
            print(text)
        } else if let bar {
            bar.printAbove(text + "\n")
        } else {
            StandardError.write(text + "\n")
        }
    }
}
