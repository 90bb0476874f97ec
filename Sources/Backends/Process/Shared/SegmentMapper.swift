// The worker-side resolver for arrays that arrived as shared memory references: a whole array is
// read into the Swift array's storage straight from the file; a single element is read through a
// mapping.

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

    func copyBytes(of reference: SegmentReference, into destination: UnsafeMutableRawBufferPointer) throws {
        do {
            try SharedSegment.read(reference, into: destination)
        } catch {
            throw WireError(message: "cannot read a shared array from process \(reference.ownerPID): \(error)")
        }
    }

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
