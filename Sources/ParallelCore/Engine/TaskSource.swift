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
    /// Takes the next input, `nil` at the end: the one-worker path's step, with no chunk array.
    @usableFromInline package let takeOne: () -> Element?
    /// The number of inputs when the sequence knows it cheaply (a random-access collection), for
    /// progress messages.
    @usableFromInline package let knownCount: Int?
    /// Whether taking inputs has no observable effect (an array), so the engine may take them all.
    @usableFromInline package let isInert: Bool
    /// The input when it is an `Array`: every take is a slice of it, so the driver cuts batches
    /// from it directly (``TakenInputs``).
    @usableFromInline package let array: [Element]?
    /// The input when it is an `AsyncSequence`: taken with `await`, on the caller's isolation.
    @usableFromInline package let asyncInput: (any AsyncTaskInput<Element>)?

    @inlinable
    package init<S: Sequence>(_ sequence: S) where S.Element == Element {
        if let array = sequence as? [Element] {
            let cursor = Cursor()
            take = { n in
                let end = array.count - cursor.position > n ? cursor.position + n : array.count
                defer { cursor.position = end }
                return array[cursor.position..<end]
            }
            takeOne = {
                guard cursor.position < array.count else { return nil }
                defer { cursor.position += 1 }
                return array[cursor.position]
            }
            knownCount = array.count
            isInert = true
            self.array = array
            asyncInput = nil
        } else {
            let state = IteratorBox(sequence.makeIterator())
            take = { n in
                guard !state.drained, n > 0 else { return [] }
                var chunk = [Element]()
                chunk.reserveCapacity(min(n, 1024))
                while chunk.count < n {
                    guard let element = state.next() else { break }
                    chunk.append(element)
                }
                return chunk[...]
            }
            takeOne = { state.next() }
            knownCount = (sequence as? any RandomAccessCollection)?.count
            isInert = false
            array = nil
            asyncInput = nil
        }
    }

    /// A source over an `AsyncSequence`: inputs that arrive over time, consumed lazily under the
    /// same pre-dispatch rule. Its length is unknown until it ends.
    @inlinable
    package init<S: AsyncSequence>(async sequence: S) where S.Element == Element {
        take = { _ in [] }
        takeOne = { nil }
        knownCount = nil
        isInert = false
        array = nil
        asyncInput = AsyncIteratorBox(sequence.makeAsyncIterator())
    }

    /// Takes up to `n` more inputs, awaiting an asynchronous input on the caller's isolation.
    /// - Throws: what the input sequence throws.
    @inlinable
    package func take(_ n: Int, isolation: isolated (any Actor)?) async throws -> ArraySlice<Element> {
        guard let asyncInput else { return take(n) }
        return try await asyncInput.take(n, isolation: isolation)
    }
}

/// An asynchronous input as the engine takes it: in chunks, on the caller's isolation.
@usableFromInline
package protocol AsyncTaskInput<Element>: AnyObject {
    associatedtype Element
    /// Takes up to `n` more inputs; fewer means the sequence ended.
    func take(_ n: Int, isolation: isolated (any Actor)?) async throws -> ArraySlice<Element>
}

/// An `AsyncSequence`'s iterator, iterated once, only as far as the engine asks; once it returns
/// `nil` (or throws) it is not called again.
@usableFromInline
final class AsyncIteratorBox<Iterator: AsyncIteratorProtocol>: AsyncTaskInput {
    @usableFromInline var iterator: Iterator
    @usableFromInline var drained = false

    @inlinable init(_ iterator: Iterator) { self.iterator = iterator }

    @inlinable
    func take(_ n: Int, isolation: isolated (any Actor)?) async throws -> ArraySlice<Iterator.Element> {
        guard !drained, n > 0 else { return [] }
        var chunk = [Iterator.Element]()
        chunk.reserveCapacity(min(n, 1024))
        do {
            while chunk.count < n {
                guard let element = try await iterator.next(isolation: isolation) else {
                    drained = true
                    break
                }
                chunk.append(element)
            }
        } catch {
            drained = true
            throw error
        }
        return chunk[...]
    }
}

/// The array source's position, shared by its two take closures.
@usableFromInline
final class Cursor {
    @usableFromInline var position = 0

    @inlinable init() {}
}

/// A sequence's iterator, shared by the two take closures; once it returns `nil` it is never
/// called again (an iterator need not keep returning `nil`).
@usableFromInline
final class IteratorBox<Iterator: IteratorProtocol> {
    @usableFromInline var iterator: Iterator
    @usableFromInline var drained = false

    @inlinable init(_ iterator: Iterator) { self.iterator = iterator }

    @inlinable func next() -> Iterator.Element? {
        guard !drained else { return nil }
        guard let element = iterator.next() else {
            drained = true
            return nil
        }
        return element
    }
}
