/// The caller's input, taken lazily in chunks on the caller's isolation.
///
/// Built `@inlinable` where the sequence type is concrete. An `Array` input is never copied task
/// by task: a chunk is an `ArraySlice` of it (O(1), sharing storage), so taking inputs costs
/// nothing per task. Any other sequence is iterated exactly once, only as far as the engine asks;
/// once its iterator returns `nil` it is not called again.
///
/// Not `Sendable`: it holds the caller's iterator and is only used where the call runs.
@usableFromInline
package struct TaskSource<Element> {
    /// Takes up to `n` more inputs; fewer means the input is exhausted.
    @usableFromInline package let take: (Int) -> ArraySlice<Element>
    /// The number of inputs when the sequence knows it cheaply (a random-access collection), for
    /// progress messages.
    @usableFromInline package let knownCount: Int?
    /// Whether taking inputs has no observable effect (an array), so the engine may take them all.
    @usableFromInline package let isInert: Bool

    @inlinable
    package init<S: Sequence>(_ sequence: S) where S.Element == Element {
        if let array = sequence as? [Element] {
            var position = 0
            take = { n in
                let end = array.count - position > n ? position + n : array.count
                defer { position = end }
                return array[position..<end]
            }
            knownCount = array.count
            isInert = true
        } else {
            var iterator = sequence.makeIterator()
            var drained = false
            take = { n in
                guard !drained, n > 0 else { return [] }
                var chunk = [Element]()
                chunk.reserveCapacity(min(n, 1024))
                while chunk.count < n {
                    guard let element = iterator.next() else {
                        drained = true
                        break
                    }
                    chunk.append(element)
                }
                return chunk[...]
            }
            knownCount = (sequence as? any RandomAccessCollection)?.count
            isInert = false
        }
    }
}
