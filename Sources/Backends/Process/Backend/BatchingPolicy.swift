import ParallelCore

extension AutoBatchingPolicy {
    /// Batch durations for this package's worker processes.
    ///
    /// joblib aims at 0.2–2 s per batch because a loky round trip is expensive (pickling, a
    /// queue thread, a result thread). Here a batch's round trip is one frame each way on a pipe
    /// and encoding is a memory copy for number-only jobs, so 20 ms batches already make the
    /// overhead negligible while leaving ten times less work stranded on one worker at the end of
    /// a call, which measured faster than joblib's durations (the figures are in
    /// Benchmarks/RESULTS.md, "Measurements behind design choices").
    static let workerProcesses = AutoBatchingPolicy(
        minIdealBatchDuration: .milliseconds(20), maxIdealBatchDuration: .milliseconds(500))
}
