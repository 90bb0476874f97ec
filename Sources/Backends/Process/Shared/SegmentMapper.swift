// The worker-side resolver for arrays that arrived as shared memory references: map, let the
// decoder copy them into a Swift array, unmap.

/// Maps segment references while a batch is decoded, and reuses arrays that earlier jobs of the
/// same call already copied out of the same segment (``DecodedArrayCache``).
final class SegmentMapper: SegmentResolver {
    private let cache: DecodedArrayCache

    /// A mapper for one batch; it first drops the cached arrays of calls that have ended.
    init(cache: DecodedArrayCache = .shared) {
        self.cache = cache
        cache.dropStale()
    }

    func decodedArray(for reference: SegmentReference) -> Any? { cache.array(for: reference) }

    func remember(_ array: Any, decodedFrom reference: SegmentReference) { cache.remember(array, for: reference) }

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
