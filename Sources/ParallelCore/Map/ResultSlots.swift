/// The storage a parallel map writes its results into: one slot per input index.
///
/// `@unchecked Sendable`: participants of one loop write disjoint batches, each handed out
/// once by the loop's ``BatchClaimer``; the caller reads or frees the storage only after the
/// loop has finished (every participant that claimed a batch has left it, see ``BatchedLoop``),
/// and that finish is published with release/acquire atomics.
@usableFromInline
package struct ResultSlots<Element>: @unchecked Sendable {
    /// The first slot.
    @usableFromInline package let base: UnsafeMutablePointer<Element>

    /// Slots at `base`, owned by the caller.
    @inlinable
    package init(_ base: UnsafeMutablePointer<Element>) {
        self.base = base
    }

    /// Writes the result of index `index`; the slot must be uninitialised.
    @inlinable
    package func initialize(_ index: Int, to value: consuming Element) {
        (base + index).initialize(to: value)
    }

    /// Destroys the results in `range` (an error or cancellation undoes them).
    @inlinable
    package func deinitialize(_ range: Range<Int>) {
        guard !range.isEmpty else { return }
        (base + range.lowerBound).deinitialize(count: range.count)
    }

    /// Destroys the results in every range of `ranges` (disjoint).
    @inlinable
    package func deinitialize(_ ranges: [Range<Int>]) {
        for range in ranges { deinitialize(range) }
    }
}
