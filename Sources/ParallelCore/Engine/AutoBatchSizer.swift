/// joblib's `AutoBatchingMixin` as a pure value: batch durations in, batch sizes out.
///
/// A duration sample counts only if it comes from a batch of the current size. Samples are
/// smoothed (`0.8 * old + 0.2 * new`, the first taken as is). Below the policy's minimum the size
/// grows, at most doubling per step, towards the size that would last twice the minimum; above the
/// maximum it shrinks at once. Each change resets the average so that the next decision waits for
/// a batch of the new size.
package struct AutoBatchSizer: Sendable {
    package let minimum: Double
    package let maximum: Double
    package let maxBatchSize: Int
    package private(set) var batchSize = 1
    package private(set) var smoothedDuration = 0.0

    package init(policy: AutoBatchingPolicy) {
        minimum = policy.minIdealBatchDuration.seconds
        maximum = policy.maxIdealBatchDuration.seconds
        maxBatchSize = policy.maxBatchSize
    }

    /// Records that a batch of `size` tasks took `duration` seconds.
    package mutating func batchCompleted(size: Int, duration: Double) {
        guard size == batchSize else { return }
        smoothedDuration = smoothedDuration == 0 ? duration : 0.8 * smoothedDuration + 0.2 * duration
    }

    /// The size for the next batch, and joblib's verbose message when the rule fired.
    package mutating func nextBatchSize() -> (size: Int, message: String?) {
        let old = batchSize
        let duration = smoothedDuration
        var message: String?
        if duration > 0, duration < minimum {
            let ideal = Self.truncate(Double(old) * minimum / duration) &* 2
            batchSize = min(max(min(2 * old, ideal), 1), maxBatchSize)
            message = "Batch computation too fast (\(duration)s.) Setting batch_size=\(batchSize)."
        } else if duration > maximum, old >= 2 {
            let ideal = Self.truncate(Double(old) * minimum / duration)
            batchSize = max(2 * ideal, 1)
            message = "Batch computation too slow (\(duration)s.) Setting batch_size=\(batchSize)."
        }
        if batchSize != old { smoothedDuration = 0 }
        return (batchSize, message)
    }

    private static func truncate(_ value: Double) -> Int {
        value >= Double(Int.max / 4) ? Int.max / 4 : Int(value)
    }
}
