import CParallelSupport
import Glibc
import ParallelCore

// A page of shared memory per worker where it notes which task it is running. Writing it costs a
// few nanoseconds per task (no system call), so it is always on, and when a worker dies the parent
// reads the exact task that was running from it (so a crash names the task that caused it, not its batch).

/// The worker's live position, readable by the parent even after the worker has died.
///
/// Layout (u64 each): batch id, task offset + 1 (0: none), task start (monotonic ns).
/// - Concurrency: `@unchecked Sendable` because every access is an atomic load or store through
///   the C helpers (`pk_atomic_load_u64` / `pk_atomic_store_u64`); the mapping lives until deinit.
package final class StatusBoard: @unchecked Sendable {
    static let size = 4096
    private let base: UnsafeMutablePointer<UInt64>

    private init(base: UnsafeMutableRawPointer) {
        self.base = base.bindMemory(to: UInt64.self, capacity: 3)
    }

    deinit { munmap(UnsafeMutableRawPointer(base), Self.size) }

    /// Maps the board behind `fd` (a memfd of `size` bytes) read-write and shared.
    static func map(fd: Int32) -> StatusBoard? {
        guard let pointer = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0), pointer != MAP_FAILED else {
            return nil
        }
        return StatusBoard(base: pointer)
    }

    /// Creates a new board in the parent: a sealed-size memfd, mapped. Returns the board and the
    /// memfd (close-on-exec), which the spawner hands to the worker and then closes.
    package static func create() throws -> (StatusBoard, Int32) {
        let fd = Platform.makeAnonymousSharedMemory(name: "parallelkit-board")
        guard fd >= 0 else { throw SystemError("memfd_create", errno) }
        guard ftruncate(fd, off_t(size)) == 0, let board = map(fd: fd) else {
            let code = errno
            close(fd)
            throw SystemError("status board", code)
        }
        return (board, fd)
    }

    /// Worker: a task starts.
    @inline(__always)
    func taskStarted(batchID: UInt64, offset: Int, at time: UInt64) {
        pk_atomic_store_u64(base, batchID)
        pk_atomic_store_u64(base + 2, time)
        pk_atomic_store_u64(base + 1, UInt64(offset) &+ 1)
    }

    /// Worker: the batch ended.
    func idle() { pk_atomic_store_u64(base + 1, 0) }

    /// Parent: the running task's offset in batch `batchID` of `count` tasks, or nil.
    ///
    /// The page is memory the worker can write (a wild write in native code included), so the
    /// value is range-checked against the batch: anything else reads as "unknown" (red-team F5).
    func runningTask(batchID: UInt64, count: Int) -> Int? {
        let offsetPlusOne = pk_atomic_load_u64(base + 1)
        guard offsetPlusOne != 0, offsetPlusOne <= UInt64(max(count, 0)), pk_atomic_load_u64(base) == batchID else {
            return nil
        }
        return Int(offsetPlusOne - 1)
    }

    /// Tests: writes raw values, as a wild write in the worker could.
    func overwrite(batchID: UInt64, offsetPlusOne: UInt64) {
        pk_atomic_store_u64(base, batchID)
        pk_atomic_store_u64(base + 1, offsetPlusOne)
    }
}
