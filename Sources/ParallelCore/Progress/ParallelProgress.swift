/// How a call reports its progress: not at all, with a bar on standard error, or as typed
/// events to a closure of yours.
///
/// ```swift
/// let squares = try await Parallel(nJobs: 4, progress: .bar)(jobs)
/// let counted = try await Parallel(nJobs: 4, progress: .handler { event in
///     if case .progressed(let snapshot) = event { print(snapshot.completed) }
/// })(jobs)
/// ```
///
/// The same events come on every backend, with `nJobs: 1` and with worker processes: see
/// ``ProgressEvent`` for their order and rate. A call nested inside a task draws no bar of its own
/// (its handler, if you give one, still gets events).
public struct ParallelProgress: Sendable {
    /// What a value asks for; the engine's ``ProgressChannel`` reads it.
    package enum Mode: Sendable {
        case none
        case bar
        case handler(@Sendable (ProgressEvent) -> Void)
    }

    package let mode: Mode

    package init(mode: Mode) {
        self.mode = mode
    }

    /// No progress reporting (the default outside scopes that set one).
    public static let none = ParallelProgress(mode: .none)

    /// A live bar on standard error while it is a terminal (redrawn at most 20 times a second);
    /// otherwise, or with NO_COLOR / TERM=dumb, a plain line at most every 10 s or 5 %. Its last
    /// line shows "N/N" and "100%" (or how many failed).
    ///
    /// Several calls with bars at once share standard error: each gets one line of a block that is
    /// redrawn together, so they never garble each other.
    public static let bar = ParallelProgress(mode: .bar)

    /// Calls `handler` with every event, one at a time, in order.
    ///
    /// The handler runs on a serial delivery queue of the call's own, never concurrently with
    /// itself and never on a worker, so a slow handler never holds up tasks: while it is busy,
    /// successive ``ProgressEvent/progressed(_:)`` events waiting for it are merged into the newest
    /// one (``ProgressEvent/started(_:)``, ``ProgressEvent/taskFailed(_:willRetry:)`` and
    /// ``ProgressEvent/finished(_:)`` are never dropped). The call returns after the handler has
    /// returned from ``ProgressEvent/finished(_:)``.
    public static func handler(_ handler: @escaping @Sendable (ProgressEvent) -> Void) -> ParallelProgress {
        ParallelProgress(mode: .handler(handler))
    }
}
