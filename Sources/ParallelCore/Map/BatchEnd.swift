/// How one claimed batch of a parallel loop ended.
@usableFromInline
package enum BatchEnd {
    /// Every index of the batch was done (for a map: every result slot initialised).
    case completed
    /// The loop was stopped before the batch's end; the batch's partial work was undone.
    case stopped
    /// An item threw; the batch's partial work was undone. The error ends the loop.
    case failed(any Error)
}
