import Foundation
import ParallelCore

/// Copies the workers' standard error to this process's on a thread of its own, so the event
/// loop — the only I/O thread of every pool — never blocks on a write.
///
/// If this process's standard error is a pipe that nobody reads, the relay's thread blocks, not
/// the event loop: worker replies, crashes and timeouts are still handled. Pending output is
/// bounded (``capacity``); beyond it, bytes are dropped and a line says how many. A worker's last
/// lines are kept separately for crash reports, whatever happens here.
///
/// - Concurrency: `forward` from any thread. `@unchecked Sendable`: `pending`, `dropped` and
///   `started` are only touched with `condition` locked.
final class StandardErrorRelay: @unchecked Sendable {
    /// The relay every pool shares: to this process's standard error, holding up to 4 MiB.
    static let shared = StandardErrorRelay(fd: 2, capacity: 4 << 20)

    /// Where the bytes go.
    let fd: Int32
    /// Bytes that may wait for a slow destination before new ones are dropped.
    let capacity: Int

    private let condition = NSCondition()
    private var pending: [UInt8] = []
    private var dropped = 0
    private var started = false

    init(fd: Int32, capacity: Int) {
        self.fd = fd
        self.capacity = capacity
    }

    /// Queues `bytes` for this process's standard error and returns at once.
    /// - Complexity: O(`bytes.count`), one lock round trip.
    func forward(_ bytes: UnsafeRawBufferPointer) {
        condition.lock()
        defer { condition.unlock() }
        if !started {
            // Without a thread (the system refused one), retry at the next write; the bytes wait
            // in the bounded buffer meanwhile.
            started = CheckedThread.start(name: "pk-stderr") { [self] in run() } == 0
        }
        if pending.count + bytes.count > capacity {
            dropped += bytes.count
        } else {
            pending.append(contentsOf: bytes)
        }
        condition.signal()
    }

    private func run() {
        var batch: [UInt8] = []
        while true {
            condition.lock()
            while pending.isEmpty && dropped == 0 { condition.wait() }
            swap(&batch, &pending)
            let lost = dropped
            dropped = 0
            condition.unlock()
            FileDescriptorIO.writeAll(fd, batch)
            batch.removeAll(keepingCapacity: true)
            if lost > 0 {
                FileDescriptorIO.writeAll(
                    fd,
                    Array(
                        "[ParallelKit: \(lost) bytes of worker standard error dropped: this process's standard error was not being read]\n"
                            .utf8))
            }
        }
    }
}
