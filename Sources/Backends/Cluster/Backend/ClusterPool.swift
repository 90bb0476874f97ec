import Foundation
@_spi(Locking) import ParallelCore
import ParallelProcess

// What the "ssh" and "slurm" backends share: a pool of the process backends' machinery whose
// workers are started by a launcher and connect back to a listener of this pool, and the start
// of a call on it. The pool lives as long as its backend: workers are reused across calls, end
// after an idle timeout, when the backend is released, and at program exit.

/// A listener, its secret and the worker pool it feeds.
///
/// - Concurrency: immutable after init; the pool is driven on the event loop, the listener on
///   its own threads.
final class ClusterPool: Sendable {
    let pool: WorkerPool
    let listener: PoolListener
    /// Removed with the pool (SLURM's shared secret file), if any.
    let secretFile: String?
    /// `OMP_NUM_THREADS` and the other native thread limits the workers were started with (nil:
    /// not set, the nodes' own defaults). Fixed for the pool's life.
    let threadLimit: Int?

    /// Starts listening and builds the pool.
    /// - Parameters:
    ///   - listenHost: the address to listen on and give the workers.
    ///   - build: `BuildIdentity.current`, which the caller computes off the cooperative pool.
    ///   - makeLauncher: the launcher, given the listener's address and the secret.
    init(
        listenHost: String, build: String, secret: [UInt8], secretFile: String?, idleTimeout: Duration,
        threadLimit: Int?,
        makeLauncher: (_ listener: PoolListener) -> any RemoteWorkerLauncher
    ) throws {
        let attach = LockedValue<WorkerPool?>(nil)
        let listener = try PoolListener(host: listenHost, secret: secret, build: build) { token, socket, about in
            guard let pool = attach.withLock({ $0 }) else {
                close(socket)
                return
            }
            EventLoop.shared.execute {
                if !pool.attach(token: token, socket: socket, peer: about) { close(socket) }
            }
        }
        var configuration = WorkerLaunch.configuration(
            executable: nil, overrides: [:], idleTimeout: idleTimeout)
        configuration.launcher = makeLauncher(listener)
        let pool = WorkerPool(configuration: configuration)
        attach.withLock { $0 = pool }
        self.pool = pool
        self.listener = listener
        self.secretFile = secretFile
        self.threadLimit = threadLimit
    }

    /// `KEY=value` entries that set every native thread limit to `threadLimit`.
    static func threadLimitEntries(_ threadLimit: Int?) -> [String] {
        guard let threadLimit else { return [] }
        return WorkerEnvironment.threadLimitVariables.map { "\($0)=\(threadLimit)" }
    }

    /// Ends the workers (gracefully, then killed), stops listening and removes the secret file.
    func shutdown() {
        let pool = self.pool
        EventLoop.shared.execute { pool.shutdown(done: nil) }
        listener.stop()
        if let secretFile { unlink(secretFile) }
    }

    /// Registers a call and waits for its first worker to be ready; returns the call.
    /// - Parameter maxWorkers: the most workers the launcher can place (ssh slots).
    func startCall(
        _ context: BackendCallContext, backendName: String, maxWorkers: Int = .max
    ) async throws -> any BackendCall {
        var remoteContext = context
        switch context.mmapMode {
        case .rPlus, .wPlus:
            throw ParallelError(
                .invalidArgument,
                "invalid mmapMode: \(context.mmapMode) asks workers to write into the caller's shared memory, which a "
                    + "worker on another machine cannot map. Use .r or .c (arrays are then sent as bytes) and return "
                    + "results instead of writing them.")
        default:
            // Memory cannot be mapped across machines: shared arrays travel as bytes.
            remoteContext.mmapMode = .disabled
            remoteContext.maxNbytes = nil
        }
        if let requested = context.innerMaxNumThreads, requested != threadLimit {
            throw ParallelError.invalid(
                "innerMaxNumThreads",
                "the workers of this \(backendName) were started with "
                    + (threadLimit.map { "OMP_NUM_THREADS=\($0)" } ?? "the nodes' own thread limits")
                    + " and keep them for their life, but this call asks for \(requested)",
                fix: "Use another \(backendName) instance for calls with another limit.")
        }
        let callID = WorkerLaunch.makeCallID()
        do {
            try await WorkerLaunch.open(pool, callID: callID, nJobs: min(context.nJobs, maxWorkers))
        } catch let error as ParallelError {
            throw ParallelError(error.code, taskIndex: error.taskIndex, "\(backendName): \(error.description)")
        }
        return ProcessCall(pool: pool, callID: callID, context: remoteContext, ownsPool: false)
    }

    /// The pids of the launchers of live workers (for tests).
    func liveLauncherPIDs() async -> [pid_t] {
        let pool = self.pool
        return await EventLoop.shared.submit { pool.liveWorkerPIDs }
    }
}

/// Reads `PARALLELKIT_…` seconds settings.
enum SettingParser {
    static func seconds(_ name: String, in environment: [String: String], default value: Duration) throws -> Duration {
        guard let text = environment[name], !text.isEmpty else { return value }
        guard let seconds = Double(text), seconds > 0, seconds.isFinite else {
            throw ParallelError(.invalidArgument, "invalid \(name)=\(text): expected a positive number of seconds")
        }
        return .milliseconds(Int64(seconds * 1000))
    }

    /// The real path of this executable (what a worker on another machine runs, at the same path).
    static func thisExecutable() -> String {
        (try? FileManager.default.destinationOfSymbolicLink(atPath: Platform.currentExecutablePath))
            ?? CommandLine.arguments[0]
    }

    /// `text` quoted for a POSIX shell.
    static func shellQuote(_ text: String) -> String {
        "'" + text.replacingOccurrences(of: "'", with: "'\\''") + "'"
    }
}
