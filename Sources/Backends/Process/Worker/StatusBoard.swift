import CParallelSupport
import Glibc
import ParallelCore

// A page of shared memory per worker where it notes which task it is running and how many tasks
// of its batch have completed. Writing it costs a few nanoseconds per task (no system call), so it
// is always on. When a worker dies the parent reads the exact task that was running from it (so a
// crash names the task that caused it, not its batch); while a batch runs the parent reads the
// completed count from it for progress inside the batch.

/// The worker's live position, readable by the parent even after the worker has died.
///
/// Layout (u64 each): batch id, task offset + 1 (0: none), task start (monotonic ns), completed
/// tasks (the low 32 bits of the batch id in the high half, the count in the low half: one word,
/// so a reader never pairs one batch's count with another batch's id).
/// - Concurrency: `@unchecked Sendable` because every access is an atomic load or store through
///   the C helpers (`pk_atomic_load_u64` / `pk_atomic_store_u64`); the mapping lives until deinit.
package final class StatusBoard: @unchecked Sendable {
    static let size = 4096
    private let base: UnsafeMutablePointer<UInt64>

    private init(base: UnsafeMutableRawPointer) {
        self.base = base.bindMemory(to: UInt64.self, capacity: 4)
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

    /// Worker: the first `count` tasks of batch `batchID` have completed.
    /// - Complexity: one atomic store (no system call).
    @inline(__always)
    func tasksCompleted(batchID: UInt64, count: Int) {
        pk_atomic_store_u64(base + 3, Self.completedWord(batchID: batchID, count: count))
    }

    /// Worker: the batch ended.
    func idle() { pk_atomic_store_u64(base + 1, 0) }

    /// The completed-tasks word: the batch id's low half tags the count, so a count left over from
    /// the worker's previous batch never reads as progress of the next one.
    static func completedWord(batchID: UInt64, count: Int) -> UInt64 {
        (batchID << 32) | UInt64(UInt32(truncatingIfNeeded: count))
    }

    /// Parent: the running task's offset in batch `batchID` of `count` tasks, or nil.
    ///
    /// The page is memory the worker can write (a wild write in native code included), so the
    /// value is range-checked against the batch: anything else reads as "unknown".
    func runningTask(batchID: UInt64, count: Int) -> Int? {
        let offsetPlusOne = pk_atomic_load_u64(base + 1)
        guard offsetPlusOne != 0, offsetPlusOne <= UInt64(max(count, 0)), pk_atomic_load_u64(base) == batchID else {
            return nil
        }
        return Int(offsetPlusOne - 1)
    }

    /// Parent: how many tasks of batch `batchID` (of `count` tasks) the worker reports completed,
    /// or nil when the page holds no count for that batch.
    ///
    /// Range-checked like ``runningTask(batchID:count:)``: a count tagged with
    /// another batch, or above `count`, reads as "unknown", never as progress.
    func completedTasks(batchID: UInt64, count: Int) -> Int? {
        let word = pk_atomic_load_u64(base + 3)
        guard word >> 32 == batchID & 0xFFFF_FFFF else { return nil }
        let completed = word & 0xFFFF_FFFF
        guard completed <= UInt64(max(count, 0)) else { return nil }
        return Int(completed)
    }

    /// Tests: writes a raw completed-tasks word, as a wild write in the worker could.
    func overwriteCompleted(_ word: UInt64) { pk_atomic_store_u64(base + 3, word) }

    /// Tests: writes raw values, as a wild write in the worker could.
    func overwrite(batchID: UInt64, offsetPlusOne: UInt64) {
        pk_atomic_store_u64(base, batchID)
        pk_atomic_store_u64(base + 1, offsetPlusOne)
    }
}
