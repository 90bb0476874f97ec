@_spi(Locking) import ParallelCore
import Synchronization

// joblib's automatic memmapping, for one call: arrays of plain values in jobs that are larger than
// `maxNbytes` are copied once into shared memory, and every batch that carries the same array
// (same storage) refers to the same segment. The segments live until the call ends.

/// The shared-memory segments of one call's large arrays.
///
/// - Concurrency: thread-safe: a mutex guards the table.
final class LargeArrayStore: LargeArraySink, Sendable {
    private struct Key: Hashable {
        let address: UInt
        let byteCount: Int
    }

    /// The array a segment copies. It is only retained, never read: keeping it alive keeps its
    /// address from being reused by another array while the cache is keyed by address. Hence
    /// `@unchecked Sendable` for an `Any`.
    private struct Retained: @unchecked Sendable {
        let value: Any
    }

    private struct Entry: Sendable {
        let segment: SharedSegment
        let owner: Retained
    }

    /// Arrays of more bytes than this are shared.
    let threshold: Int
    /// Where segments go; nil for anonymous memory.
    let folder: String?
    private let entries = LockedValue<[Key: Entry]>([:])
    private let released = Atomic<Bool>(false)

    init(threshold: Int, folder: String?) {
        self.threshold = threshold
        self.folder = folder
    }

    func reference(for bytes: UnsafeRawBufferPointer, owner: Any) throws -> SegmentReference? {
        guard bytes.count > threshold, let base = bytes.baseAddress, !released.load(ordering: .relaxed) else {
            return nil
        }
        let key = Key(address: UInt(bitPattern: base), byteCount: bytes.count)
        let retained = Retained(value: owner)
        return entries.withLock { entries in
            if let entry = entries[key] { return entry.segment.reference }
            // Out of memory or space: copying through the pipe still works, only slower.
            guard let segment = try? SharedSegment.create(copying: bytes, in: folder) else { return nil }
            entries[key] = Entry(segment: segment, owner: retained)
            return segment.reference
        }
    }

    /// Number of live segments (for tests).
    var segmentCount: Int { entries.withLock { $0.count } }

    /// Frees every segment; later arrays are sent inline.
    func releaseAll() {
        released.store(true, ordering: .relaxed)
        // Taken out under the lock and dropped after it, so the segments' munmap and close run
        // outside the lock.
        let dropped = entries.withLock { entries in
            defer { entries.removeAll() }
            return Array(entries.values)
        }
        _ = dropped
    }
}
