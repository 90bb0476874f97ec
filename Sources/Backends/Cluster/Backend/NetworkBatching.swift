import ParallelCore

extension AutoBatchingPolicy {
    /// Batch durations for workers on other machines: a round trip over a network costs many
    /// times a pipe's, so batches are longer than for local worker processes, long enough that the
    /// round trip stays a small fraction of even the shortest batch.
    static let remoteWorkers = AutoBatchingPolicy(
        minIdealBatchDuration: .milliseconds(50), maxIdealBatchDuration: .seconds(1))
}
