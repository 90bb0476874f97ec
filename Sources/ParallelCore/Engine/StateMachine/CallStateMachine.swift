/// Every decision of one call with workers, as a value: events in, actions out.
///
/// The machine decides which inputs to take, how to batch them, when to submit a batch, what a
/// completed, failed, crashed or stuck batch means for each of its tasks (settle, retry, re-run,
/// bisect, give up), when results are ready for the consumer, which progress lines to print and
/// when the call is over. It has no locks, no threads and no clock of its own: time comes in with
/// the events. The driver (``ParallelCall``) carries the actions out — it takes inputs, talks to
/// the backend, prints — and reports back what happened.
///
/// The dispatch rules are joblib's (`dispatch_one_batch`, `_start`, the completion callback): the
/// pre-dispatch window is dispatched at the start, then each completed batch dispatches one more,
/// so the number of batches in flight stays what the window made it. In the generator modes,
/// dispatch pauses while about two rounds of results wait unconsumed (joblib has no such
/// backpressure), which keeps memory bounded.
///
/// Failure handling, per task:
/// - a task that throws, times out or crashes its worker is retried under the call's
///   ``RetryPolicy`` (after a backoff, as a ``EngineAction/wakeUp(at:)`` timer);
/// - when it fails for good, the throwing modes stop the call with its error, and the results
///   modes (``Configuration/keepsGoing``) record a ``TaskFailure`` and go on;
/// - the other tasks of a crashed or abandoned batch run again, unblamed; a crash the backend
///   cannot attribute to one task is bisected until a task crashes alone;
/// - after ``Configuration/maxFailures`` final failures no task starts; the rest settle as
///   `.notRun`.
///
/// - Complexity: O(1) amortised per batch and per event, apart from settling `.notRun` tasks (one
///   record each). Nothing here runs per task of a batch that succeeds.
package struct CallStateMachine<Output: Sendable> {
    /// How results reach the consumer.
    package enum Delivery: Sendable, Equatable {
        /// All results, in submission order, at the end.
        case list
        /// In submission order, each run as soon as it and those before it are settled.
        case ordered
        /// In completion order, each run as soon as it settles.
        case unordered
    }

    /// What the machine needs to know about the call, fixed at its start.
    package struct Configuration: Sendable {
        package var nJobs: Int
        /// The pre-dispatch window in tasks, or `nil` for "all".
        package var preDispatch: Int?
        package var batchSize: BatchSize
        package var autoBatching: AutoBatchingPolicy
        package var delivery: Delivery
        /// Whether a task's final failure is a value (results modes) rather than the call's end.
        package var keepsGoing: Bool
        /// Final failures after which no task starts (results modes).
        package var maxFailures: Int?
        package var retry: RetryPolicy
        /// The per-task timeout, for messages (the driver's watchdog enforces it).
        package var timeout: Duration?
        package var verbose: Int
        package var nJobsLabel: Int
        package var backendName: String
        /// Lines printed first, such as a backend substitution notice.
        package var notices: [String]
        /// The number of inputs when known up front.
        package var knownCount: Int?
        /// Whether the call has a progress display to tell (``EngineAction/progress(_:)``).
        package var reportsProgress: Bool
        /// Batches dispatched beyond joblib's window once it is filled, as if that many batches
        /// had completed: the hand-off reserve of an input already in memory, so workers take their
        /// next batch from the backend's queue while the driver refills it in bulk (see
        /// ``ParallelCall``). The batches are cut exactly as joblib's later dispatches would cut
        /// them; they are only dispatched earlier.
        package var handOffBatches = 0
        /// Whether the driver drops taken inputs when ``EngineAction/releaseInputs(below:)`` says
        /// so. Not for an `Array` input, whose slices share the storage the caller holds anyway:
        /// the machine then skips the O(batches in flight) search for the lowest input still
        /// needed after every completion.
        package var releasesInputs = true

        package init(
            nJobs: Int, preDispatch: Int?, batchSize: BatchSize, autoBatching: AutoBatchingPolicy = .inProcess,
            delivery: Delivery, keepsGoing: Bool = false, maxFailures: Int? = nil, retry: RetryPolicy = .never,
            timeout: Duration? = nil, verbose: Int = 0, nJobsLabel: Int? = nil, backendName: String = "Backend",
            notices: [String] = [], knownCount: Int? = nil, reportsProgress: Bool = false
        ) {
            self.nJobs = nJobs
            self.preDispatch = preDispatch
            self.batchSize = batchSize
            self.autoBatching = autoBatching
            self.delivery = delivery
            self.keepsGoing = keepsGoing
            self.maxFailures = maxFailures
            self.retry = retry
            self.timeout = timeout
            self.verbose = verbose
            self.nJobsLabel = nJobsLabel ?? nJobs
            self.backendName = backendName
            self.notices = notices
            self.knownCount = knownCount
            self.reportsProgress = reportsProgress
        }
    }

    /// How one batch ended, as the driver reports it.
    package struct BatchReport: Sendable {
        /// Outputs of the completed prefix of the batch, or `nil` when they were lost (a worker
        /// crashed before sending them).
        package var values: [Output]?
        /// How many tasks at the start of the batch completed (or, after a crash, the offset of
        /// the task that was running).
        package var completedCount: Int
        /// The error of the task at offset `completedCount`, if the batch did not complete.
        package var failure: (any Error)?
        /// Whether `failure` belongs to the task at `completedCount` (false: a crash the backend
        /// could not pin on one task).
        package var isFailureAttributed: Bool
        /// How long the batch ran, in seconds, for auto batching.
        package var duration: Double

        package init(
            values: [Output]?, completedCount: Int, failure: (any Error)?, isFailureAttributed: Bool = true,
            duration: Double
        ) {
            self.values = values
            self.completedCount = completedCount
            self.failure = failure
            self.isFailureAttributed = isFailureAttributed
            self.duration = duration
        }
    }

    // The machine's records (CallPhase, BatchFlight, TaskRetryWait, InputTakeReason, below) are
    // top-level types, not nested ones: a type nested in a generic type is generic too, and every
    // dictionary or queue of it would look its metadata up at run time on each access (the
    // driver's code is not specialised; a third of its time went there). Concrete types make
    // those collections specialised, plain code.
    package let configuration: Configuration
    var phase = CallPhase.idle
    var reporter: ProgressReporter
    var counters = ProgressReporter.Counters(iterating: false)
    var planner: DispatchPlanner
    var sizer: AutoBatchSizer?
    let tailRule: Bool

    /// Batches formed from a take, not yet submitted (joblib's ready batches).
    var fresh = FIFOQueue<Range<Int>>()
    /// Tasks to run again: batch-mates of a crash or a stuck task, bisected halves, due retries.
    var reruns = FIFOQueue<Range<Int>>()
    var retryWaits: [TaskRetryWait] = []
    var inFlight: [Int: BatchFlight] = [:]
    /// Failed starts per task, only for tasks that failed at least once.
    var attempts: [Int: Int] = [:]
    var nextBatchID = 0
    /// The submission index of the next input to be taken.
    var takenCount = 0
    var sourceDrained = false
    var pendingTake: InputTakeReason?
    var fillingWindow = false
    /// Dispatches owed by completed batches and not yet made (backpressure holds them back).
    var owedDispatches = 0
    var finalFailures = 0
    var printedFinished = false
    var wakeUpAt: UInt64?
    /// The time of the latest event, for progress lines.
    var lastNow: UInt64 = 0

    /// Tasks a backend reported completed inside running batches
    /// (``CallStateMachine/batchTasksCompleted(_:upTo:)``), counted for progress before they
    /// settle; settling them does not count them again.
    var countedAhead: [Range<Int>] = []

    var ordered = OrderedRuns<Output>()
    /// The results of a throwing list call, in order.
    package internal(set) var listResults: [Output] = []
    /// Runs ready for the consumer, with the submission index of their first task.
    var deliverable = FIFOQueue<(firstIndex: Int, run: SettledRun<Output>)>()
    /// Results handed to `deliverable` and not yet consumed.
    var heldResults = 0

    /// The error that ended a throwing call.
    package internal(set) var failure: (any Error)?

    var actions: [EngineAction] = []
    var actionHead = 0

    package init(_ configuration: Configuration) {
        self.configuration = configuration
        self.reporter = ProgressReporter(
            verbose: configuration.verbose, nJobsLabel: configuration.nJobsLabel,
            totalTasks: configuration.knownCount, preDispatchAmount: configuration.preDispatch ?? 0, startTime: 0)
        self.planner = DispatchPlanner(nJobs: configuration.nJobs, preDispatch: configuration.preDispatch)
        self.tailRule = configuration.preDispatch != nil
        if case .auto = configuration.batchSize { sizer = AutoBatchSizer(policy: configuration.autoBatching) }
        if let knownCount = configuration.knownCount, configuration.delivery == .list, !configuration.keepsGoing {
            listResults.reserveCapacity(knownCount)
        }
    }

    // MARK: - Reading the state

    /// The next action for the driver, in order; `nil` when there is nothing to do until the
    /// next event.
    package mutating func nextAction() -> EngineAction? {
        guard actionHead < actions.count else { return nil }
        let action = actions[actionHead]
        actionHead += 1
        if actionHead == actions.count {
            actions.removeAll(keepingCapacity: true)
            actionHead = 0
        }
        return action
    }

    /// Whether the call has ended: finished, failed or aborted.
    package var isOver: Bool { phase == .finished || phase == .failed || phase == .aborted }

    /// Whether the call ended with every task settled.
    package var isFinished: Bool { phase == .finished }

    /// Whether nothing remains to run or wait for.
    var isSettled: Bool {
        (phase == .running || phase == .stopping) && pendingTake == nil && !counters.iterating
            && fresh.isEmpty && reruns.isEmpty && inFlight.isEmpty && retryWaits.isEmpty
    }

    /// The next run for the consumer of a generator (or of a results list), with the index of
    /// its first task.
    package mutating func takeDeliverable() -> (firstIndex: Int, run: SettledRun<Output>)? {
        deliverable.popFirst()
    }

    /// Whether a run waits for the consumer.
    package var hasDeliverable: Bool { !deliverable.isEmpty }

    /// The submission indices of the batch in flight as `batchID`, if it is still awaited.
    package func range(ofBatch batchID: Int) -> Range<Int>? { inFlight[batchID]?.range }

    mutating func emit(_ action: EngineAction) { actions.append(action) }

    mutating func say(_ text: String, destination: ProgressLine.Destination = .progress) {
        guard configuration.verbose > 0 else { return }
        emit(.print(ProgressLine(text, destination: destination)))
    }
}

/// Where a call is in its life (``CallStateMachine``).
enum CallPhase: Equatable {
    case idle
    /// Taking inputs and starting tasks.
    case running
    /// `maxFailures` was reached: running batches finish, nothing new starts.
    case stopping
    /// A task failed for good in a throwing mode; ``CallStateMachine/failure`` holds the error.
    case failed
    /// Cancelled, or the consumer went away.
    case aborted
    /// Every task settled and the backend's call was finished.
    case finished
}

/// What the ``CallStateMachine`` knows about a batch in flight.
struct BatchFlight {
    /// The tasks still awaited: the batch's tasks minus a prefix already settled while it
    /// runs (``CallStateMachine/batchPrefixCompleted(_:values:now:)``).
    var range: Range<Int>
    /// Whether the batch came from the input in dispatch order (it counts for auto batching
    /// and pays back one dispatch when it completes); re-runs and retries do not.
    var isFresh: Bool
    /// How many tasks the batch was submitted with, for auto batching.
    var size: Int
    /// Tasks below this index were counted for progress while the batch ran.
    var countedUpTo = 0
}

/// A task waiting for its retry (``CallStateMachine``).
struct TaskRetryWait {
    var due: UInt64
    var index: Int
    var lastFailure: TaskFailure
}

/// Why the ``CallStateMachine`` asked for inputs, so the answer resumes the right rule.
enum InputTakeReason {
    /// A dispatch that asked for `asked` inputs to split with `batchSize`.
    case dispatch(asked: Int, batchSize: Int, fillingWindow: Bool)
    /// Every remaining input, to settle as `.notRun`.
    case rest
}
