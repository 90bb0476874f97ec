import CParallelSupport
import CParallelWorkerHook
import Foundation
import ParallelCore

// Where worker mode starts: called by the C constructor (dynamic Swift runtime) or by
// `ParallelWorker.enterIfNeeded()` (static runtime). It never returns: the main thread parks in
// its run loop so jobs that hop to the main actor work (without it such a hop never runs),
// and the request loop runs on a thread of its own.

package enum WorkerEntry {
    /// Starts the worker described by the constructor's request.
    static func start() -> Never {
        var request = pk_worker_request()
        guard pk_worker_copy_request(&request) == 1 else { WorkerLoop.exitWorker(PK_WORKER_EXIT_NOT_LINKED) }
        // A worker that connects back over TCP (ParallelCluster), here after a deferred start.
        if request.remote != 0 { pk_worker_run_remote() }
        guard let board = StatusBoard.map(fd: request.board_fd) else {
            FileDescriptorIO.writeAll(2, Array("ParallelKit worker: cannot map its status board\n".utf8))
            WorkerLoop.exitWorker(PK_WORKER_EXIT_NOT_LINKED)
        }
        close(request.board_fd)
        serve(WorkerLoop(requestFD: request.request_fd, replyFD: request.reply_fd, board: board))
    }

    /// Runs `loop` on a thread of its own and parks the main thread in its run loop.
    package static func serve(_ loop: WorkerLoop) -> Never {
        let result = CheckedThread.start(name: "pk-worker") { loop.run() }
        guard result == 0 else {
            // Said on stderr, which the parent quotes in its "could not start" error.
            let reason = SystemLimits.refused(.thread, for: "the worker's request loop", code: result)
            FileDescriptorIO.writeAll(2, Array("ParallelKit worker: \(reason.description)\n".utf8))
            // Not 121 (permanent): a limit may pass, so the pool may retry a few times.
            WorkerLoop.exitWorker(3)
        }
        while true {
            _ = RunLoop.main.run(mode: .default, before: .distantFuture)
        }
    }
}

/// The symbol the C constructor calls when the Swift runtime is ready (see worker_hook.c).
@_cdecl("parallelkit_worker_main")
func parallelKitWorkerMain() {
    WorkerEntry.start()
}
