import Foundation

/// The error ParallelKit throws for its own failures: bad arguments, unknown backends, tasks that
/// cannot cross a process boundary, timeouts, crashed workers and failures reported by a worker
/// process in a form that could not be rebuilt as the original error.
///
/// A task's own error is never wrapped: it is rethrown as the same value.
///
/// ```swift
/// do { _ = try await Parallel(nJobs: 0)(tasks) }
/// catch let error as ParallelError where error.code == .invalidArgument { print(error) }
/// ```
public struct ParallelError: Error, Sendable, CustomStringConvertible, LocalizedError {
    /// What kind of failure this is. A struct, not an enum, so codes can be added without
    /// breaking code that switches over them.
    public struct Code: Hashable, Sendable, CustomStringConvertible {
        private let name: String

        private init(_ name: String) { self.name = name }

        /// An argument to `Parallel`, `withParallelConfig` or a helper was invalid. Nothing ran.
        public static let invalidArgument = Code("invalidArgument")
        /// A backend name was not registered. Nothing ran.
        public static let unknownBackend = Code("unknownBackend")
        /// A task cannot cross the process boundary the chosen backend needs. Nothing ran.
        public static let notSerializable = Code("notSerializable")
        /// A task ran longer than the call's `timeout`.
        public static let timeout = Code("timeout")
        /// A worker process ended (signal, exit, trap) while running a task.
        public static let workerCrashed = Code("workerCrashed")
        /// A task in a worker process threw an error that could not be rebuilt as itself.
        public static let remoteTaskFailed = Code("remoteTaskFailed")
        /// The task never started: the call stopped first (`maxFailures` was reached). Only in
        /// the results modes, as a ``TaskFailure``'s error.
        public static let notRun = Code("notRun")

        /// The code's name, such as `invalidArgument`.
        public var description: String { name }
    }

    /// What kind of failure this is.
    public var code: Code
    /// The failing task's position in submission order, where one task is involved. For a crash,
    /// the exact task where the backend can tell, else the first of its batch (the description
    /// says which).
    public var taskIndex: Int?
    /// Says what happened, to which task, and what to do about it.
    public var description: String
    /// For `.workerCrashed`: what ended the worker (its pid, signal or exit status, and the last
    /// lines it wrote to standard error). Nil for other codes and when no worker process was
    /// involved.
    public var crash: WorkerCrash?

    /// The same text as ``description``, so `localizedDescription` says what happened.
    public var errorDescription: String? { description }

    /// Creates an error.
    /// - Parameters:
    ///   - code: the kind of failure.
    ///   - taskIndex: the task involved, if any, in submission order.
    ///   - description: what happened and what to do.
    public init(_ code: Code, taskIndex: Int? = nil, _ description: String) {
        self.code = code
        self.taskIndex = taskIndex
        self.description = description
    }

    /// Creates a `.workerCrashed`-style error that records what ended the worker.
    /// - Parameters:
    ///   - code: the kind of failure (normally `.workerCrashed`).
    ///   - taskIndex: the task involved, if any, in submission order.
    ///   - description: what happened and what to do.
    ///   - crash: what ended the worker.
    public init(_ code: Code, taskIndex: Int? = nil, _ description: String, crash: WorkerCrash?) {
        self.init(code, taskIndex: taskIndex, description)
        self.crash = crash
    }
}

/// What ended a worker process, as a `.workerCrashed` ``ParallelError`` reports it in
/// ``ParallelError/crash``.
///
/// The worker's crash report (the Swift runtime's `Fatal error:` line and backtrace) is kept here
/// rather than copied onto the caller's standard error; `verbose` above 0 copies it there too.
public struct WorkerCrash: Sendable, Equatable {
    /// The worker's process id.
    public var pid: Int32
    /// The signal that ended the worker, if one did.
    public var signal: Int32?
    /// Its exit status, if it exited.
    public var exitStatus: Int32?
    /// The last lines it wrote to standard error (the runtime's crash report), possibly empty.
    public var standardErrorTail: String

    /// Creates a crash record.
    public init(pid: Int32, signal: Int32? = nil, exitStatus: Int32? = nil, standardErrorTail: String = "") {
        self.pid = pid
        self.signal = signal
        self.exitStatus = exitStatus
        self.standardErrorTail = standardErrorTail
    }
}

extension ParallelError {
    /// An `.invalidArgument` error for a parameter, phrased as "what was wrong; what to do".
    package static func invalid(_ parameter: String, _ problem: String, fix: String) -> ParallelError {
        ParallelError(.invalidArgument, "invalid \(parameter): \(problem). \(fix)")
    }
}
