/// The inputs a call with workers has taken and may still need: for batches not yet submitted,
/// batches in flight (a crashed batch runs again), and tasks waiting for a retry.
///
/// Inputs are kept as the slices they were taken in (an `Array` input's slices share its storage)
/// and dropped once the state machine says no task below an index can run again, so a generator
/// over a long input holds only the window it works on. An `Array` input is kept whole instead:
/// every take is a slice of it, so a batch is cut from it directly and nothing is ever released.
/// - Complexity: `slice(_:)` is O(log t) for t live takes (O(1) for an `Array` input); `append`
///   and `release` O(1) amortised.
struct TakenInputs<Element> {
    private var takes = FIFOQueue<(start: Int, elements: ArraySlice<Element>)>()
    /// The whole input when it is an `Array` (its submission indices are its indices).
    private let whole: [Element]?
    private(set) var endIndex = 0

    /// Inputs taken from `source`.
    init(of source: TaskSource<Element>) {
        whole = source.array
    }

    /// Keeps the next take; its first element has submission index ``endIndex``.
    mutating func append(_ elements: ArraySlice<Element>) {
        guard !elements.isEmpty else { return }
        if whole == nil { takes.append((endIndex, elements)) }
        endIndex += elements.count
    }

    /// The inputs of the tasks `range`, which lie within one take (the machine splits takes,
    /// and re-runs split batches further, never joins them).
    func slice(_ range: Range<Int>) -> ArraySlice<Element> {
        if let whole { return whole[range] }
        var low = 0
        var high = takes.count
        while high - low > 1 {
            let middle = (low + high) / 2
            if takes[offset: middle].start <= range.lowerBound { low = middle } else { high = middle }
        }
        let take = takes[offset: low]
        let offset = range.lowerBound - take.start
        let first = take.elements.startIndex + offset
        return take.elements[first..<(first + range.count)]
    }

    /// Drops takes that lie wholly below `index`.
    mutating func release(below index: Int) {
        while let first = takes.first, first.start + first.elements.count <= index {
            _ = takes.popFirst()
        }
    }
}
