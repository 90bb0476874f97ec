import Foundation
import Glibc
import ParallelCore

// Compute-once across threads and processes: before computing a missing entry, a caller takes a
// write lock on one byte of the cache folder's `lock` file, the byte that stands for its key
// (`CacheKey.lockOffset`; byte 0 is eviction's). These are open-file-description ("OFD") locks,
// flock's byte-range sibling: owned by the open file, not by the process, so two threads of one
// process exclude each other as two processes do, and the kernel releases them when the holder
// closes the file or dies (a SIGKILLed computation never leaves a key locked). One byte per key
// in one file rather than one lock file per key: lock files would either pile up beside the
// entries or need deleting, and deleting a lock file that another process is about to lock
// breaks the exclusion.

/// A held lock on one byte of a lock file; `release()` (or deinit) gives it back.
///
/// - Concurrency: `@unchecked Sendable` because the descriptor is closed once, by `release`,
///   guarded by a mutex.
final class KeyLock: @unchecked Sendable {
    private let mutex = NSLock()
    private var fd: Int32

    private init(fd: Int32) { self.fd = fd }

    deinit { release() }

    /// Waits for the lock on byte `offset` of the file at `path` (created if missing).
    ///
    /// An uncontended lock is taken on the calling thread; a contended one is waited for on a
    /// thread of its own, so the wait never blocks a thread of Swift's cooperative pool.
    /// - Returns: nil when the file system does not support locks (the caller then computes
    ///   without single-flight).
    static func acquire(path: String, offset: Int64) async throws -> KeyLock? {
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o600)
        guard fd >= 0 else {
            throw MemoryIOError(operation: "open the lock file", path: path, errno: errno)
        }
        while true {
            if Platform.lockByte(fd, offset: offset, wait: false) == 0 { return KeyLock(fd: fd) }
            let error = errno
            if error == EINTR { continue }
            if error == EAGAIN || error == EACCES { break }
            close(fd)
            if error == ENOLCK || error == EINVAL || error == EOPNOTSUPP { return nil }
            throw MemoryIOError(operation: "lock", path: path, errno: error)
        }
        let waited: Int32 = await withCheckedContinuation { continuation in
            Thread.detachNewThread {
                var status: Int32 = 0
                while Platform.lockByte(fd, offset: offset, wait: true) != 0 {
                    if errno != EINTR {
                        status = errno
                        break
                    }
                }
                continuation.resume(returning: status)
            }
        }
        guard waited == 0 else {
            close(fd)
            throw MemoryIOError(operation: "wait for the lock", path: path, errno: waited)
        }
        return KeyLock(fd: fd)
    }

    /// Releases the lock (closing the descriptor releases it). Idempotent.
    func release() {
        mutex.lock()
        defer { mutex.unlock() }
        if fd >= 0 {
            close(fd)
            fd = -1
        }
    }
}

/// A failed file operation inside the cache folder.
struct MemoryIOError: Error, CustomStringConvertible {
    var operation: String
    var path: String
    var errno: Int32

    var description: String { "cannot \(operation) \(path): \(String(cString: strerror(errno)))" }
}
