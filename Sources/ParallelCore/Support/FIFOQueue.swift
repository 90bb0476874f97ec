/// A first-in, first-out queue: ``append(_:)`` at the back, ``popFirst()`` from the front.
///
/// Backends and the engine keep work waiting in queues like this one (batches for a call's
/// workers, jobs for an executor's threads). `Array.removeFirst()` would shift every remaining
/// element on each pop; this queue instead advances a head index over an array and reclaims the
/// consumed prefix once it is at least half of the storage, so both ends cost amortised O(1) and
/// a queue that is drained regularly reuses its storage without growing.
///
/// It is a value type with no synchronisation of its own: guard a shared one with a lock, as any
/// array.
///
/// - Complexity: ``append(_:)``, ``popFirst()``, ``first``, ``count`` and ``isEmpty`` are
///   amortised O(1); ``removeAll(keepingCapacity:)`` is O(*n*).
///
/// Inlinable, so the backends and the engine get code specialized for their element type: an
/// unspecialized pop looked up `Optional<Element>` metadata on every call (about 2% of the CPU
/// time of a 2-task threading call in a profile, for issue 9).
public struct FIFOQueue<Element> {
    /// Elements from `head` on are queued; the slots before it were popped and are `nil`, so a
    /// popped element is released at once rather than when its slot is reclaimed (a queue of large
    /// values would otherwise keep up to 64 of them alive after they were consumed).
    @usableFromInline var storage: [Element?] = []
    @usableFromInline var head = 0

    /// Creates an empty queue.
    @inlinable public init() {}

    /// The number of queued elements.
    @inlinable
    public var count: Int { storage.count - head }

    /// Whether no element is queued.
    @inlinable
    public var isEmpty: Bool { head == storage.count }

    /// The element ``popFirst()`` would return, without removing it; nil when empty.
    @inlinable
    public var first: Element? { isEmpty ? nil : storage[head] }

    /// The queued element `offset` places from the front (0 is ``first``).
    /// - Precondition: `0 <= offset < count`.
    @inlinable
    public subscript(offset offset: Int) -> Element { storage[head + offset]! }

    /// Queues `element` at the back.
    @inlinable
    public mutating func append(_ element: Element) {
        storage.append(element)
    }

    /// Removes and returns the oldest element, or nil when the queue is empty.
    @inlinable
    public mutating func popFirst() -> Element? {
        guard head < storage.count else { return nil }
        let element = storage[head]
        storage[head] = nil
        head += 1
        if head == storage.count {
            // Drained: start again at the front of the same storage.
            storage.removeAll(keepingCapacity: true)
            head = 0
        } else if head >= 64 && head * 2 >= storage.count {
            // The consumed prefix is most of the storage: drop it so memory follows the queue's
            // length, not its history. Each element is moved at most once per halving, so this
            // stays amortised O(1).
            storage.removeFirst(head)
            head = 0
        }
        return element
    }

    /// The queued elements, oldest first, without removing them.
    package var elements: LazyMapSequence<ArraySlice<Element?>, Element> { storage[head...].lazy.map { $0! } }

    /// Removes every queued element.
    /// - Parameter keepingCapacity: keep the storage allocated for reuse.
    @inlinable
    public mutating func removeAll(keepingCapacity: Bool = false) {
        storage.removeAll(keepingCapacity: keepingCapacity)
        head = 0
    }
}

extension FIFOQueue: Sendable where Element: Sendable {}
