/// How one claimed range of a parallel loop ended.
@usableFromInline
package enum ChunkEnd {
    /// Every index of the range was done (for a map: every result slot initialised).
    case completed
    /// The loop was stopped before the range's end; the range's partial work was undone.
    case stopped
    /// An item threw; the range's partial work was undone. The error ends the loop.
    case failed(any Error)
}
