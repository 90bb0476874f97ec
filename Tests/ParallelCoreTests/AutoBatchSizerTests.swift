import ParallelCore
import Testing

/// joblib's `AutoBatchingMixin` as ``AutoBatchSizer``: durations in, sizes out.
@Suite("AutoBatchSizer: joblib's adaptive batch size")
struct AutoBatchSizerTests {
    /// joblib's constants: grow below 0.2 s, shrink above 2 s.
    static let joblib = AutoBatchingPolicy(
        minIdealBatchDuration: .milliseconds(200), maxIdealBatchDuration: .seconds(2))

    /// Grows a sizer to `size` (a power of two) with very fast batches.
    static func grown(to size: Int, policy: AutoBatchingPolicy = joblib) -> AutoBatchSizer {
        var sizer = AutoBatchSizer(policy: policy)
        while sizer.batchSize < size {
            sizer.batchCompleted(size: sizer.batchSize, duration: 0.000_001)
            _ = sizer.nextBatchSize()
        }
        return sizer
    }

    @Test("starts at 1 with no smoothed duration, and stays there without samples")
    func initialState() {
        var sizer = AutoBatchSizer(policy: Self.joblib)
        #expect(sizer.batchSize == 1)
        #expect(sizer.smoothedDuration == 0)
        let next = sizer.nextBatchSize()
        #expect(next.size == 1)
        #expect(next.message == nil)
    }

    @Test("a fast batch at most doubles the size, however fast it was", arguments: [0.19, 0.01, 0.000_001, 1e-12])
    func growthAtMostDoubles(duration: Double) {
        var sizer = AutoBatchSizer(policy: Self.joblib)
        sizer.batchCompleted(size: 1, duration: duration)
        #expect(sizer.nextBatchSize().size == 2)
    }

    @Test("successive fast batches double the size step by step: 1, 2, 4, 8, 16")
    func doublingSequence() {
        var sizer = AutoBatchSizer(policy: Self.joblib)
        var sizes = [sizer.batchSize]
        for _ in 0..<4 {
            sizer.batchCompleted(size: sizer.batchSize, duration: 0.001)
            sizes.append(sizer.nextBatchSize().size)
        }
        #expect(sizes == [1, 2, 4, 8, 16])
    }

    @Test("the message is joblib's 'too fast' line with the new size")
    func tooFastMessage() {
        var sizer = AutoBatchSizer(policy: Self.joblib)
        sizer.batchCompleted(size: 1, duration: 0.001)
        #expect(sizer.nextBatchSize().message == "Batch computation too fast (0.001s.) Setting batch_size=2.")
    }

    @Test("a slow batch shrinks the size at once to about what fits the minimum duration")
    func fastShrink() {
        var sizer = Self.grown(to: 64)
        #expect(sizer.batchSize == 64)
        sizer.batchCompleted(size: 64, duration: 10)
        // ideal = int(64 * 0.2 / 10) = 1, new size = 2 * ideal.
        let next = sizer.nextBatchSize()
        #expect(next.size == 2)
        #expect(next.message == "Batch computation too slow (10.0s.) Setting batch_size=2.")
    }

    @Test("a slow batch shrinks more than halving when it is far too slow: 1024 → 2 in one step")
    func shrinkIsNotLimitedToHalving() {
        var sizer = Self.grown(to: 1024)
        sizer.batchCompleted(size: 1024, duration: 200)
        #expect(sizer.nextBatchSize().size == 2)
    }

    @Test("a slow batch of size 1 cannot shrink and says nothing")
    func slowSingleton() {
        var sizer = AutoBatchSizer(policy: Self.joblib)
        sizer.batchCompleted(size: 1, duration: 30)
        let next = sizer.nextBatchSize()
        #expect(next.size == 1)
        #expect(next.message == nil)
    }

    @Test("between the minimum and maximum duration the size is kept", arguments: [0.2, 0.5, 1.9, 2.0])
    func stableBand(duration: Double) {
        var sizer = Self.grown(to: 8)
        sizer.batchCompleted(size: 8, duration: duration)
        let next = sizer.nextBatchSize()
        #expect(next.size == 8)
        #expect(next.message == nil)
        #expect(sizer.smoothedDuration == duration)
    }

    @Test("samples are smoothed: the first is taken as is, then 0.8 × old + 0.2 × new")
    func smoothing() {
        var sizer = AutoBatchSizer(policy: Self.joblib)
        sizer.batchCompleted(size: 1, duration: 0.5)
        #expect(sizer.smoothedDuration == 0.5)
        sizer.batchCompleted(size: 1, duration: 1.0)
        #expect(abs(sizer.smoothedDuration - 0.6) < 1e-12)
        sizer.batchCompleted(size: 1, duration: 1.6)
        #expect(abs(sizer.smoothedDuration - 0.8) < 1e-12)
    }

    @Test("a sample from a batch of another size is ignored")
    func staleSamplesIgnored() {
        var sizer = AutoBatchSizer(policy: Self.joblib)
        sizer.batchCompleted(size: 3, duration: 0.001)
        #expect(sizer.smoothedDuration == 0)
        #expect(sizer.nextBatchSize().size == 1)
    }

    @Test("every change resets the smoothing, so the next decision waits for a batch of the new size")
    func changeResetsSmoothing() {
        var sizer = AutoBatchSizer(policy: Self.joblib)
        sizer.batchCompleted(size: 1, duration: 0.001)
        #expect(sizer.nextBatchSize().size == 2)
        #expect(sizer.smoothedDuration == 0)
        // A late sample of the old size does not move it again.
        sizer.batchCompleted(size: 1, duration: 0.001)
        #expect(sizer.nextBatchSize().size == 2)
        // The first sample of the new size is taken as is, not averaged with the old ones.
        sizer.batchCompleted(size: 2, duration: 0.7)
        #expect(sizer.smoothedDuration == 0.7)
        #expect(sizer.nextBatchSize().size == 2)
    }

    @Test("an unchanged size keeps the smoothed duration")
    func noChangeKeepsSmoothing() {
        var sizer = AutoBatchSizer(policy: Self.joblib)
        sizer.batchCompleted(size: 1, duration: 0.5)
        _ = sizer.nextBatchSize()
        #expect(sizer.smoothedDuration == 0.5)
    }

    @Test("growth stops at the policy's maximum batch size")
    func cappedGrowth() {
        let policy = AutoBatchingPolicy(
            minIdealBatchDuration: .milliseconds(200), maxIdealBatchDuration: .seconds(2), maxBatchSize: 8)
        var sizer = Self.grown(to: 8, policy: policy)
        sizer.batchCompleted(size: 8, duration: 0.000_001)
        #expect(sizer.nextBatchSize().size == 8)
    }

    @Test("a policy clamps its maximum batch size to at least 1")
    func policyClamp() {
        let policy = AutoBatchingPolicy(
            minIdealBatchDuration: .milliseconds(1), maxIdealBatchDuration: .seconds(1), maxBatchSize: 0)
        #expect(policy.maxBatchSize == 1)
    }

    @Test("the out-of-process policy uses joblib's 0.2 s and 2 s; the in-process one is shorter")
    func builtinPolicies() {
        #expect(AutoBatchingPolicy.outOfProcess.minIdealBatchDuration == .milliseconds(200))
        #expect(AutoBatchingPolicy.outOfProcess.maxIdealBatchDuration == .seconds(2))
        #expect(
            AutoBatchingPolicy.inProcess.minIdealBatchDuration < AutoBatchingPolicy.outOfProcess.minIdealBatchDuration)
        #expect(AutoBatchingPolicy.inProcess.minIdealBatchDuration < AutoBatchingPolicy.inProcess.maxIdealBatchDuration)
    }
}
