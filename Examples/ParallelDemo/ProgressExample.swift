import ParallelKit

/// The progress meter, joblib's format and frequency rule, on standard error:
///
/// ```python
/// >>> r = Parallel(n_jobs=2, verbose=10)(delayed(sleep)(.2) for _ in range(10))
/// [Parallel(n_jobs=2)]: Done   1 tasks      | elapsed:    0.6s
/// [Parallel(n_jobs=2)]: Done   4 tasks      | elapsed:    0.8s
/// [Parallel(n_jobs=2)]: Done  10 out of  10 | elapsed:    1.4s finished
/// ```
///
/// joblib's input is a generator, whose length is unknown until it ends, hence "Done 4 tasks"
/// rather than "Done 4 out of 10". A lazy sequence that is not a collection plays that part here
/// (an array would print "out of 10" from the start). Threads start at once, so the first line
/// comes after one nap, not after loky's start-up.
func progressExample() async throws {
    let naps = stride(from: 0, to: 10, by: 1).lazy.map { _ in delayed(nap)(0.2) }
    _ = try await Parallel(nJobs: 2, verbose: 10)(naps)
}
