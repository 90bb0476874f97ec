import CParallelSupport
import CParallelWorkerHook

/// Worker mode of the process backends.
///
/// The `"process"` and `"multiprocessing"` backends start workers by running this same executable
/// again. Normally the worker takes over before `main` runs, with no code from you: in a plain
/// executable and inside `swift test` alike.
///
/// Executables linked with `--static-swift-stdlib` are the exception: there the Swift runtime is
/// not ready early enough, so call ``enterIfNeeded()`` as the first statement of `main`:
///
/// ```swift
/// import ParallelKit
///
/// @main struct Tool {
///     static func main() async throws {
///         ParallelWorker.enterIfNeeded()
///         // … the program, which may use Parallel(backend: "process")
///     }
/// }
/// ```
///
/// If that call is missing, a process backend fails with a `ParallelError` that says so, within
/// a few seconds; it never hangs.
public enum ParallelWorker {
    /// Turns this process into a worker if it was started as one; otherwise returns at once.
    ///
    /// Needed only in executables linked with `--static-swift-stdlib`; harmless elsewhere.
    /// - Complexity: O(1) when not a worker. As a worker it never returns.
    /// - Concurrency: call it from the main thread, before anything else runs.
    public static func enterIfNeeded() {
        guard pk_worker_claim_deferred() == 1 else { return }
        WorkerEntry.start()
    }

    /// Whether this process is a worker of a process backend.
    /// - Complexity: O(1).
    public static var isWorkerProcess: Bool {
        pk_worker_current_state() != Int32(PK_WORKER_NONE.rawValue)
    }

    /// Whether this process was asked to be a worker but `enterIfNeeded()` has not run (a
    /// statically linked executable whose `main` forgot it). Such a process must not start
    /// workers of its own: they would do the same, without end.
    static var isUnclaimedWorker: Bool {
        pk_worker_current_state() == Int32(PK_WORKER_DEFERRED.rawValue)
    }
}
