import CParallelSupport
import CParallelWorkerHook
import Foundation

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
        let thread = Thread { loop.run() }
        thread.name = "pk-worker"
        thread.stackSize = 8 << 20
        thread.start()
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
