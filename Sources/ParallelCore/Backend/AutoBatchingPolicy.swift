/// How `batchSize: .auto` sizes batches for a backend: joblib's `AutoBatchingMixin` constants.
///
/// The engine grows a batch (at most doubling per step) while batches finish faster than
/// ``minIdealBatchDuration`` and shrinks it quickly when they take longer than
/// ``maxIdealBatchDuration``; near the end of the input it uses small batches so no worker is
/// left with a long tail.
public struct AutoBatchingPolicy: Hashable, Sendable {
    /// Batches faster than this grow.
    public var minIdealBatchDuration: Duration
    /// Batches slower than this shrink.
    public var maxIdealBatchDuration: Duration
    /// Batches never hold more tasks than this. It bounds the memory of results in flight (a
    /// generator with a slow consumer holds a few batches), while at this size a batch's hand-off
    /// cost, shared by all its tasks, is already negligible per task.
    public var maxBatchSize: Int

    /// Creates a policy.
    public init(minIdealBatchDuration: Duration, maxIdealBatchDuration: Duration, maxBatchSize: Int = 65_536) {
        self.minIdealBatchDuration = minIdealBatchDuration
        self.maxIdealBatchDuration = maxIdealBatchDuration
        self.maxBatchSize = max(1, maxBatchSize)
    }

    /// For backends that run batches in this process. joblib forces batch size 1 for threads
    /// because of the GIL; Swift has none, and a batch's hand-off (a task on a pool thread, a
    /// continuation back) is orders of magnitude shorter than 2 ms, so batches of at least that
    /// long make it negligible while the tail rule keeps the load balanced.
    public static let inProcess = AutoBatchingPolicy(
        minIdealBatchDuration: .milliseconds(2), maxIdealBatchDuration: .milliseconds(200))

    /// For backends that send batches to other processes: joblib's 0.2 s and 2 s, since each
    /// batch pays a round trip to another process and encoding costs per byte (the round trip's
    /// measured cost is in Benchmarks/RESULTS.md, "Measurements behind design choices").
    public static let outOfProcess = AutoBatchingPolicy(
        minIdealBatchDuration: .milliseconds(200), maxIdealBatchDuration: .seconds(2))
}
