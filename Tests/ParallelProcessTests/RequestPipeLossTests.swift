import Foundation
@_spi(Locking) import ParallelCore
import ParallelTestSupport
import Testing

@testable import ParallelProcess

/// Records what one `WorkerConnection` reports.
///
/// - Concurrency: `@unchecked Sendable` so it can be handed to the event loop; `connection` is
///   touched on the loop thread only, and `state` is behind its lock.
private final class RecordingConnectionDelegate: WorkerConnectionDelegate, @unchecked Sendable {
    struct State {
        var ready = false
        var finished = false
        var died = false
        var crashMessage: String?
        var neverStarted = false
    }

    let state = LockedValue(State())
    /// Kept here because a connection holds its delegate weakly (loop thread only).
    var connection: WorkerConnection?

    func workerReady(_ worker: WorkerConnection) { state.withLock { $0.ready = true } }

    func worker(_ worker: WorkerConnection, finished batch: QueuedBatch, with reply: BatchReply) {
        state.withLock { $0.finished = true }
    }

    func workerDied(
        _ worker: WorkerConnection, crashed: (batch: QueuedBatch, error: ParallelError, neverStarted: Bool)?,
        startFailure: StartFailure?
    ) {
        state.withLock { state in
            state.died = true
            state.crashMessage = crashed?.error.description
            state.neverStarted = crashed?.neverStarted ?? false
        }
    }
}

// Code elsewhere in the parent (the user's, or a test's) that closes a descriptor twice can close
// a worker's request pipe, and the kernel then gives its number to the next file opened. The pool
// must not write a batch into that file, nor close it: it notices (one fstat per write) and
// replaces the worker. The number is replaced here with dup2, atomic on a number the pool holds.
@Suite("A worker's request pipe closed by other code", .offCooperativePool)
struct RequestPipeLossTests {
    @Test("a batch is never written into the file that got the number, which is left open; the batch stays innocent")
    func lostRequestPipeIsNeitherWrittenNorClosed() async throws {
        var fds: [Int32] = [-1, -1]
        try #require(Platform.makePipe(&fds) == 0)
        let (foreignRead, foreignWrite) = (fds[0], fds[1])
        defer {
            close(foreignRead)
            close(foreignWrite)
        }
        FileDescriptorIO.setNonBlocking(foreignRead)
        var foreign = stat()
        try #require(fstat(foreignWrite, &foreign) == 0)

        let delegate = RecordingConnectionDelegate()
        let started = await EventLoop.shared.submit { () -> Result<Int32, any Error> in
            Result {
                let process = try SpawnedProcess.spawn(
                    executable: "/proc/self/exe", argument0: CommandLine.arguments.first ?? "worker",
                    environment: WorkerEnvironment.entries(parent: ProcessInfo.processInfo.environment, overrides: [:]))
                delegate.connection = WorkerConnection(process: process, delegate: delegate, loop: .shared)
                return process.requestFD
            }
        }
        let requestNumber = try started.get()
        #expect(await eventually(within: .seconds(30)) { delegate.state.withLock { $0.ready } })

        // Someone else closes the request pipe and the number goes to their file. A second
        // descriptor keeps the pipe itself open, as the number's owner in a real double close
        // would not: otherwise the worker reads end of file at once and exits, and the loop may
        // see it dead before the batch below is assigned (a race this test is not about).
        let keptOpen = dup(requestNumber)
        try #require(keptOpen >= 0)
        defer { close(keptOpen) }
        #expect(dup2(foreignWrite, requestNumber) == requestNumber)
        // The pool assigns only to a ready worker; a worker that ended for a reason of its own in
        // the meantime is reported as this test's failure rather than trapping in `assign`.
        let phaseAtAssign = await EventLoop.shared.submit { () -> WorkerConnection.Phase? in
            guard let connection = delegate.connection, connection.phase == .ready else {
                return delegate.connection?.phase
            }
            let batch = QueuedBatch(
                batchID: 1, callID: 1, firstIndex: 0, count: 1, frame: [UInt8](repeating: 7, count: 64),
                progress: BatchProgress(), tracksEachTask: false, complete: { _ in })
            connection.assign(batch)
            return .ready
        }
        try #require(
            phaseAtAssign == .ready,
            "the worker was \(String(describing: phaseAtAssign)) before the batch: \(delegate.state.withLock { $0 })")
        #expect(await eventually(within: .seconds(30)) { delegate.state.withLock { $0.died } })
        let state = delegate.state.withLock { $0 }
        #expect(!state.finished)
        #expect(
            state.crashMessage?.contains("its request pipe (fd \(requestNumber)) was closed by other code") == true,
            "\(state.crashMessage ?? "no crash report")")
        #expect(state.neverStarted, "the batch was never sent: it may run on another worker")

        // Nothing was written into the file that got the number, and it is still open.
        var byte: UInt8 = 0
        #expect(read(foreignRead, &byte, 1) == -1 && errno == EAGAIN)
        var now = stat()
        let stillForeign = fstat(requestNumber, &now) == 0 && now.st_ino == foreign.st_ino
        #expect(stillForeign)
        if stillForeign { close(requestNumber) }  // else not ours to close
        await EventLoop.shared.submit { delegate.connection = nil }
    }
}
