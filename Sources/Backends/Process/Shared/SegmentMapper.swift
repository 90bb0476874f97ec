// The worker-side resolver for arrays that arrived as shared memory references: map, let the
// decoder copy them into a Swift array, unmap.

/// Maps segment references while a batch is decoded.
final class SegmentMapper: SegmentResolver {
    func withBytes<R>(of reference: SegmentReference, _ body: (UnsafeRawBufferPointer) throws -> R) throws -> R {
        let segment: SharedSegment
        do {
            segment = try SharedSegment.open(reference, access: .readOnly)
        } catch {
            throw WireError(message: "cannot map a shared array from process \(reference.ownerPID): \(error)")
        }
        return try withExtendedLifetime(segment) { try body(segment.bytes) }
    }
}
