#if canImport(Glibc)
import Glibc
@_spi(Locking) import ParallelCore
#endif

/// Arrays a worker has already copied out of the parent's shared memory, by segment, so that the
/// jobs of one call that carry the same large array (joblib's pattern: every task gets the whole
/// array) cost one copy per worker instead of one per job.
///
/// An entry is valid while the parent still holds that exact segment: the parent writes a
/// segment once, before any worker reads it, and frees it when the call ends, so "the descriptor
/// still opens to the same file" means "the same bytes". Every lookup checks that (an `open` and
/// an `fstat` of `/proc/<parent>/fd/<n>`, microseconds against the copy it saves), and each new
/// batch drops the entries whose segment is gone, so a finished call's arrays do not stay in the
/// worker beyond its next batch. At most ``capacity`` arrays are kept.
///
/// - Concurrency: a mutex guards the table; the arrays are immutable values.
final class DecodedArrayCache: Sendable {
    /// The worker's cache.
    static let shared = DecodedArrayCache()

    /// The most arrays kept at once; the oldest goes first.
    static let capacity = 4

    /// A decoded array is a value of some `[Element]`; it is only handed back, never mutated, so
    /// holding it as `Any` is sound. Hence `@unchecked Sendable`.
    private struct Entry: @unchecked Sendable {
        let array: Any
        let stamp: UInt64
    }

    private struct Table {
        var entries: [SegmentReference: Entry] = [:]
        var nextStamp: UInt64 = 0
    }

    private let table = LockedValue(Table())

    /// The array decoded from `reference`, if the segment still holds the same bytes.
    func array(for reference: SegmentReference) -> Any? {
        guard let entry = table.withLock({ $0.entries[reference] }) else { return nil }
        guard Self.isLive(reference) else {
            table.withLock { _ = $0.entries.removeValue(forKey: reference) }
            return nil
        }
        return entry.array
    }

    /// Keeps `array` for later jobs that carry the same segment.
    func remember(_ array: Any, for reference: SegmentReference) {
        // Dropped outside the lock: freeing a large array takes a while.
        let evicted = table.withLock { table -> [Entry] in
            // The owner's descriptor now names this segment: a cached copy of an earlier segment
            // behind the same number belongs to a call that has ended (its reference may still
            // look live, with a reused inode).
            var evicted = table.entries.keys
                .filter { $0.ownerPID == reference.ownerPID && $0.fd == reference.fd && $0.serial != reference.serial }
                .compactMap { table.entries.removeValue(forKey: $0) }
            table.nextStamp += 1
            table.entries[reference] = Entry(array: array, stamp: table.nextStamp)
            while table.entries.count > Self.capacity,
                let oldest = table.entries.min(by: { $0.value.stamp < $1.value.stamp })
            {
                evicted.append(table.entries.removeValue(forKey: oldest.key)!)
            }
            return evicted
        }
        _ = evicted
    }

    /// Drops the entries whose segment the parent has freed (its call ended).
    func dropStale() {
        let references = table.withLock { Array($0.entries.keys) }
        guard !references.isEmpty else { return }
        let stale = references.filter { !Self.isLive($0) }
        guard !stale.isEmpty else { return }
        let dropped = table.withLock { table in stale.compactMap { table.entries.removeValue(forKey: $0) } }
        _ = dropped
    }

    /// Number of arrays kept (for tests).
    var count: Int { table.withLock { $0.entries.count } }

    /// Whether the owner still holds the segment `reference` names (same device and inode).
    static func isLive(_ reference: SegmentReference) -> Bool {
        let fd = open(Platform.descriptorPath(process: reference.ownerPID, fd: reference.fd), O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { return false }
        defer { close(fd) }
        var info = stat()
        return fstat(fd, &info) == 0 && UInt64(info.st_dev) == reference.device
            && UInt64(info.st_ino) == reference.inode
    }
}
