import Foundation

/// A task rate averaged over time with exponentially decaying weights, for snapshots' rate and ETA.
///
/// Each sample is "n tasks settled during the last Δt"; it enters the average with weight
/// `1 - 0.1^(Δt/15 s)` while everything before is scaled by `0.1^(Δt/15 s)`, so data older than
/// 15 s weigh 10 % together and data older than 30 s 1 %. Why this estimator:
/// - weights by *time*, not by update: a burst of completions (a batch of 100 ending at once) is
///   one short interval, not 100 votes, so batching does not skew it (tqdm's per-update average
///   does);
/// - dividing by the total weight so far removes the bias towards 0 an average started at 0 has,
///   so the first measure is the plain rate rather than a fraction of it;
/// - samples shorter than `minimumSpan` are pooled with the next, so two completions a
///   microsecond apart never produce an absurd instantaneous rate; completions stamped with the
///   very instant a sample ended join that sample (a batch's tasks reported one by one count as
///   the batch would).
///
/// O(1) per sample, no allocation. Times are monotonic nanoseconds.
package struct SmoothedRate: Sendable {
    /// The time after which old data weigh 10 % together, in seconds.
    package let timeConstant: Double
    /// The shortest interval a sample covers; shorter ones are pooled.
    package let minimumSpan: UInt64

    private var sampleStart: UInt64
    private var pendingCount = 0
    private var weightedRate = 0.0
    private var totalWeight = 0.0
    /// The last sample, so completions at its very end can join it: the average before it, its
    /// decay factor, count and length in seconds.
    private var previousRate = 0.0
    private var lastKeep = 0.0
    private var lastCount = 0
    private var lastSeconds = 0.0

    /// A rate with no measure yet, counting from `start`.
    package init(start: UInt64, timeConstant: Double = 15, minimumSpan: Duration = .milliseconds(50)) {
        self.timeConstant = timeConstant
        self.minimumSpan = minimumSpan.nanoseconds
        self.sampleStart = start
    }

    /// Records `count` tasks settled at `now`. With `force`, an interval shorter than the minimum
    /// span is folded in too (the final measure of a short call).
    package mutating func record(count: Int, at now: UInt64, force: Bool = false) {
        if now == sampleStart, lastSeconds > 0, pendingCount == 0 {
            lastCount += count
            weightedRate = lastKeep * previousRate + (1 - lastKeep) * Double(lastCount) / lastSeconds
            return
        }
        pendingCount += count
        guard now > sampleStart else { return }
        let span = now - sampleStart
        guard span >= minimumSpan || (force && pendingCount > 0) else { return }
        let seconds = Double(span) / 1e9
        let keep = pow(0.1, seconds / timeConstant)
        previousRate = weightedRate
        lastKeep = keep
        lastCount = pendingCount
        lastSeconds = seconds
        weightedRate = keep * weightedRate + (1 - keep) * Double(pendingCount) / seconds
        totalWeight = keep * totalWeight + (1 - keep)
        pendingCount = 0
        sampleStart = now
    }

    /// Tasks per second, or nil before the first sample.
    package var tasksPerSecond: Double? {
        totalWeight > 0 ? weightedRate / totalWeight : nil
    }
}
