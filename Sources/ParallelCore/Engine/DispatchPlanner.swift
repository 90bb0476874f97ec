/// joblib's dispatch arithmetic as a pure value: how many inputs to take for the next batch and
/// how to split what was taken, with the pre-dispatch window counted in tasks.
///
/// Each dispatch takes `batchSize * nJobs` inputs (fewer inside the pre-dispatch window) and
/// splits them into `nJobs` equal batches; once past the window, a short take means the input is
/// ending, and the tail is split into `count / (10 * nJobs)`-sized batches so no worker is left
/// alone with a long one.
package struct DispatchPlanner: Sendable {
    package let nJobs: Int
    /// Tasks left in the pre-dispatch window, or `nil` once past it (or with "all").
    package private(set) var windowRemaining: Int?

    /// - Parameters:
    ///   - nJobs: the number of workers, 1 or more.
    ///   - preDispatch: the window in tasks, or `nil` for "all".
    package init(nJobs: Int, preDispatch: Int?) {
        self.nJobs = nJobs
        self.windowRemaining = preDispatch
    }

    /// Whether dispatches still draw from the pre-dispatch window.
    package var inWindow: Bool { windowRemaining != nil }

    /// Leaves the window: later dispatches draw from the open input (one per completed batch).
    package mutating func closeWindow() { windowRemaining = nil }

    /// How many inputs to ask for, given the current batch size.
    package func takeCount(batchSize: Int) -> Int {
        let full = fullTake(batchSize: batchSize)
        if let windowRemaining { return min(full, windowRemaining) }
        return full
    }

    /// Records a take of `taken` inputs and returns the batch size to split them into.
    /// - Parameter tailRule: whether a short take past the window means the input is ending (true
    ///   unless pre-dispatch is "all", where joblib never applies the tail rule).
    package mutating func split(taken: Int, batchSize: Int, tailRule: Bool) -> Int {
        let wasInWindow = inWindow
        if let remaining = windowRemaining { windowRemaining = remaining - taken }
        if tailRule && !wasInWindow && taken < fullTake(batchSize: batchSize) {
            return max(1, taken / (10 * nJobs))
        }
        return max(1, taken / nJobs)
    }

    /// `batchSize * nJobs`, joblib's take outside the window; half of `Int.max` if that overflows.
    private func fullTake(batchSize: Int) -> Int {
        let big = batchSize.multipliedReportingOverflow(by: nJobs)
        return big.overflow ? Int.max / 2 : big.partialValue
    }
}
