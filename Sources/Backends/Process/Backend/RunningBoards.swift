@_spi(Locking) import ParallelCore

// Which status boards to read for a call's progress inside running batches. The event loop,
// which owns the workers, notes each batch as a worker takes it and forgets it when the worker
// lets go of it; the engine's progress tick reads the boards from its own thread, without waiting
// for the loop (a loop busy with large replies must not hold progress back).

/// The running batches of one call whose workers keep a status board, for
/// ``ProcessCall/refreshProgress()``.
///
/// - Concurrency: a `LockedValue` guards the table; boards are read with atomic loads, and an entry
///   keeps its board mapped while it is read, even if its worker has just died.
final class RunningBoards: Sendable {
    private struct Entry {
        let board: StatusBoard
        let batchID: UInt64
        let count: Int
        let progress: BatchProgress
    }

    private let entries = LockedValue<[UInt64: Entry]>([:])

    /// Loop: a worker with `board` took `batch`.
    func started(_ batch: QueuedBatch, on board: StatusBoard) {
        let entry = Entry(board: board, batchID: batch.batchID, count: batch.count, progress: batch.progress)
        entries.withLock { $0[batch.batchID] = entry }
    }

    /// Loop: the worker running batch `batchID` let go of it (it finished, died or was abandoned).
    func stopped(batchID: UInt64) {
        _ = entries.withLock { $0.removeValue(forKey: batchID) }
    }

    /// Copies each running batch's completed count from its worker's board to its progress.
    ///
    /// A count the board does not vouch for (another batch's, or beyond the batch: a wild write
    /// in the worker) is skipped; counts only grow (``BatchProgress/markTasksCompleted(_:)``).
    /// - Complexity: O(running batches): a lock and two atomic loads per batch, no system call.
    func publish() {
        entries.withLock { entries in
            for entry in entries.values {
                if let completed = entry.board.completedTasks(batchID: entry.batchID, count: entry.count) {
                    entry.progress.markTasksCompleted(completed)
                }
            }
        }
    }

    /// How many batches are noted (tests).
    var count: Int { entries.withLock { $0.count } }
}
