/// Reassembles batch results in submission order.
///
/// Batches complete in any order; each is parked until every batch before it has been released.
/// - Complexity: O(1) amortised per batch; memory holds only the out-of-order batches.
package struct OrderedResults<Output> {
    private var parked: [Int: [Output]] = [:]
    /// The submission index of the next result to release.
    package private(set) var nextIndex = 0

    package init() {}

    /// Parks the results of the batch that starts at `firstIndex`.
    package mutating func insert(firstIndex: Int, values: [Output]) {
        guard !values.isEmpty else { return }
        parked[firstIndex] = values
    }

    /// The next batch in order, if it has completed.
    package mutating func popReady() -> [Output]? {
        guard let values = parked.removeValue(forKey: nextIndex) else { return nil }
        nextIndex += values.count
        return values
    }

    /// How many results are parked.
    package var parkedCount: Int { parked.values.reduce(0) { $0 + $1.count } }
}
