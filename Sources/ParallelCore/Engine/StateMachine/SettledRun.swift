/// A contiguous run of settled tasks: results of tasks that succeeded, or the one task that
/// failed for good.
@usableFromInline
package enum SettledRun<Output: Sendable>: Sendable {
    /// Outputs of consecutive tasks, the first at the run's first index.
    case succeeded([Output])
    /// One task's final failure (results modes only; the throwing modes stop instead).
    case failed(TaskFailure)

    /// How many tasks the run settles.
    @inlinable
    package var count: Int {
        switch self {
        case .succeeded(let values): return values.count
        case .failed: return 1
        }
    }
}

/// Reassembles settled runs in submission order.
///
/// Runs settle in any order (batches complete out of order, crashed batches are re-run in
/// pieces); each is parked until every task before it has been released.
/// - Complexity: O(1) amortised per run; memory holds only the out-of-order runs.
package struct OrderedRuns<Output: Sendable> {
    private var parked: [Int: SettledRun<Output>] = [:]
    /// The submission index of the next task to release.
    package private(set) var nextIndex = 0

    package init() {}

    /// Parks the run whose first task is `firstIndex`.
    package mutating func insert(firstIndex: Int, _ run: SettledRun<Output>) {
        guard run.count > 0 else { return }
        parked[firstIndex] = run
    }

    /// The run itself when it is the next one in order and nothing is parked (runs mostly
    /// settle in order, and this skips the dictionary); otherwise parks it and returns `nil`,
    /// and ``popReady()`` releases what is ready.
    package mutating func releaseIfNext(firstIndex: Int, _ run: SettledRun<Output>) -> SettledRun<Output>? {
        guard run.count > 0 else { return nil }
        guard firstIndex == nextIndex, parked.isEmpty else {
            parked[firstIndex] = run
            return nil
        }
        nextIndex += run.count
        return run
    }

    /// The next run in order, if it has settled.
    package mutating func popReady() -> SettledRun<Output>? {
        guard !parked.isEmpty, let run = parked.removeValue(forKey: nextIndex) else { return nil }
        nextIndex += run.count
        return run
    }

    /// How many runs are parked out of order.
    package var parkedRuns: Int { parked.count }
}
