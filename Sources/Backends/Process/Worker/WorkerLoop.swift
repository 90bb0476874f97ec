import CParallelSupport
import Foundation
import ParallelCore
import Synchronization

// The worker's request loop: read a frame from fd 3, run it, write the reply to fd 4, until the
// parent closes the pipe or asks to shut down. It runs on its own thread with blocking I/O; the
// batch itself runs as a Swift task on the cooperative pool, so jobs can use async code and hop
// to the main actor, whose queue the parked main thread serves.

/// One worker's conversation with its parent.
package final class WorkerLoop: Sendable {
    let requestFD: Int32
    let replyFD: Int32
    let board: StatusBoard
    /// Serialises writes to the reply pipe: task-start notices come from the batch's task while
    /// the loop thread is blocked, but a lock makes that independent of timing.
    private let writeLock = Mutex<Void>(())

    package init(requestFD: Int32, replyFD: Int32, board: StatusBoard) {
        self.requestFD = requestFD
        self.replyFD = replyFD
        self.board = board
    }

    /// Writes a frame; ends the process quietly when the parent is gone.
    func send(_ frame: [UInt8]) {
        let delivered = writeLock.withLock { _ in FileDescriptorIO.writeAll(replyFD, frame) }
        if !delivered { Self.exitWorker(0) }
    }

    /// Serves requests until end of file on the request pipe; never returns.
    package func run() -> Never {
        var hello = FrameBuilder(.hello)
        // A two-field struct always encodes.
        try? hello.append(encoding: WorkerHello(protocolVersion: FrameLimits.protocolVersion, pid: getpid()))
        if let frame = try? hello.finish() { send(frame) }
        var reader = FrameReader()
        while true {
            let frame: Frame
            do {
                guard let next = try Self.nextFrame(&reader, fd: requestFD) else { Self.exitWorker(0) }
                frame = next
            } catch {
                send(BatchExecutor.faultFrame(batchID: 0, "corrupt request stream: \(error)"))
                Self.exitWorker(3)
            }
            switch frame.kind {
            case .runBatch:
                send(runBlocking(frame.body))
                // Output of print() that did not end a line would otherwise wait for the next batch.
                fflush(nil)
            default:
                send(BatchExecutor.faultFrame(batchID: 0, "unexpected request kind \(frame.rawKind)"))
                Self.exitWorker(3)
            }
        }
    }

    /// Runs one batch as a task and waits for its reply frame.
    private func runBlocking(_ body: ByteStorage) -> [UInt8] {
        let done = DispatchSemaphore(value: 0)
        let reply = Mutex<[UInt8]>([])
        let board = self.board
        Task {
            let frame = await BatchExecutor.run(body: body, board: board) { [self] notice in send(notice.frame()) }
            reply.withLock { $0 = frame }
            done.signal()
        }
        done.wait()
        return reply.withLock { $0 }
    }

    /// Blocks until a whole frame is read; nil at end of file.
    private static func nextFrame(_ reader: inout FrameReader, fd: Int32) throws -> Frame? {
        reader.shrinkIfIdle()
        while true {
            if let frame = try reader.next() { return frame }
            let count = reader.read(from: fd)
            if count == 0 {
                if reader.pendingCount > 0 { throw FrameError.truncated(reader.pendingCount) }
                return nil
            }
            if count < 0 && errno != EINTR { throw SystemError("read from parent", errno) }
        }
    }

    /// Ends the worker without running atexit handlers or static destructors on this thread while
    /// the main thread is parked (those belong to a normal program's exit), after flushing output.
    package static func exitWorker(_ status: Int32) -> Never {
        fflush(nil)
        _exit(status)
    }
}
