import CParallelSupport
import Foundation
@_spi(Locking) import ParallelCore

// The worker's request loop: read a frame from the request pipe, run it, write the reply to the
// reply pipe (both moved to high close-on-exec descriptors by the constructor), until the
// parent closes the pipe or asks to shut down. It runs on its own thread with blocking I/O; the
// batch itself runs as a Swift task, so jobs can use async code and hop to the main actor, whose
// queue the parked main thread serves: on the cooperative pool, or, when the parent has seen the
// system refuse processes or threads lately, served by this same thread (`BatchThreadExecutor`),
// which never waits for a thread the system may refuse. Not always: that path measured 1.6-2x
// slower on 100,000 trivial jobs (Benchmarks row 4a2).

/// One worker's conversation with its parent.
package final class WorkerLoop: Sendable {
    let requestFD: Int32
    let replyFD: Int32
    let board: StatusBoard
    /// Serialises writes to the reply pipe: task-start notices come from the batch's task while
    /// the loop thread is blocked, but a lock makes that independent of timing.
    private let writeLock = LockedValue<Void>(())

    /// The reply pipe's device and inode when the worker started.
    private let replyIdentity: FileIdentity?
    /// Runs batches on the request-loop thread when the parent asks (under a limit), so such a
    /// batch needs no thread the worker lacks.
    private let executor = BatchThreadExecutor()

    package init(requestFD: Int32, replyFD: Int32, board: StatusBoard) {
        self.requestFD = requestFD
        self.replyFD = replyFD
        self.board = board
        replyIdentity = FileIdentity(of: replyFD)
    }

    /// Writes a frame; ends the process quietly when the parent is gone.
    ///
    /// The reply descriptor is checked first (one fstat): if a job closed it and the number now
    /// names another file, a reply frame must never be written into that file. The
    /// worker ends instead, and the parent reports the running task as crashed, with this reason.
    func send(_ frame: [UInt8]) {
        let delivered = writeLock.withLock { _ -> Bool in
            guard FileIdentity(of: replyFD) == replyIdentity else {
                let message =
                    "ParallelKit worker: Fatal error: its reply pipe (fd \(replyFD)) was closed or replaced by a "
                    + "job (a job must not close or dup2 over descriptors it did not open); the worker ends\n"
                FileDescriptorIO.writeAll(2, Array(message.utf8))
                Self.exitWorker(3)
            }
            return FileDescriptorIO.writeAll(replyFD, frame)
        }
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

    /// Runs one batch as a task and returns its reply frame: on the cooperative pool normally, on
    /// this thread (`BatchThreadExecutor`) when the parent asks because the system is refusing
    /// threads or processes (a new pool thread might never come).
    private func runBlocking(_ body: ByteStorage) -> [UInt8] {
        let board = self.board
        let onThisThread = (try? BatchExecutor.parse(body))?.0.runsOnWorkerThread ?? false
        if onThisThread {
            return executor.runBlocking { [self] in
                await BatchExecutor.run(body: body, board: board) { [self] notice in send(notice.frame()) }
            }
        }
        let done = DispatchSemaphore(value: 0)
        let reply = LockedValue<[UInt8]>([])
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
