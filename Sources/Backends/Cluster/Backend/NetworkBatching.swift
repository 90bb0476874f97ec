import ParallelCore

extension AutoBatchingPolicy {
    /// Batch durations for workers on other machines: a round trip over a network costs 0.1–1 ms
    /// instead of a pipe's tens of microseconds, so batches aim at 50 ms – 1 s (the overhead stays under
    /// 1–2 % at the low end).
    static let remoteWorkers = AutoBatchingPolicy(
        minIdealBatchDuration: .milliseconds(50), maxIdealBatchDuration: .seconds(1))
}
