import Foundation

/// The driver of a call with workers: it carries out what the ``CallStateMachine`` decides and
/// reports back what happened. It takes the inputs, builds batches and submits them to the
/// backend's per-call handle (a ``BackendCall``), waits for completions, timeouts and timers,
/// prints, and hands results to the consumer. It decides nothing itself.
///
/// It runs entirely on the caller's isolation: completions from backend threads arrive through a
/// ``CompletionInbox`` and are handled here, so no state below needs a lock.
///
/// Two things keep the caller off the per-batch path:
/// - **The hand-off.** For an input already in memory with a fixed batch size, the machine keeps a
///   reserve of batches queued at the backend beyond joblib's window (``handOffBatches(plan:source:maxFailures:)``),
///   so workers take their next batch from the backend's queue. The driver lets successful
///   completions pile up to half the batches in flight before it wakes, reports the burst to the
///   machine, and refills the queue with one bulk submit.
/// - **Shared batches.** When the batch size is small and nothing can tell the difference, one
///   batch of the machine covers many batches' worth of tasks, and every worker claims
///   `batchSize` tasks at a time from it (``SharedBatch``, ``sharedClaimSize(plan:source:delivery:keepsGoing:maxFailures:backendSharesBatches:)``):
///   the driver's bookkeeping is paid once per shared batch instead of once per `batchSize` tasks.
/// - **Per-task results.** Each batch's runner publishes every output into the batch's
///   ``LiveResults`` as its task ends. While a generator's consumer or a progress display waits,
///   the driver settles the finished prefixes of running batches, when the consumer asks and on a
///   2 ms tick (``harvestTick``), so results and counts move per task, not per batch.
package final class ParallelCall<Element: Sendable, Output: Sendable>: SettledRunSource {
    private let plan: CallPlan
    private let call: any BackendCall
    private let source: TaskSource<Element>
    private let kernel: TaskKernel<Element, Output>
    private let inbox = CompletionInbox()
    private let watchdog: TimeoutWatchdog?
    private var machine: CallStateMachine<Output>
    private var inputs: TakenInputs<Element>
    /// The batches in flight, by the machine's batch ID.
    private var batches: [Int: InFlightBatch] = [:]
    private var timer: Task<Void, Never>?
    /// Whether results and counts are taken from running batches (``harvest()``): when a consumer
    /// waits for results one by one, or a progress display shows counts.
    private let harvestsRunningBatches: Bool
    /// Posts ``CompletionInbox/Event/tick`` every ``harvestTick`` while the driver waits, so
    /// finished tasks inside long batches are seen within a tick.
    private var ticker: Task<Void, Never>?

    /// How often running batches are looked at while the driver waits: short enough that a
    /// generator hands a finished task over within a few milliseconds, long enough that the
    /// wake-ups cost well under 1 % of a core.
    static var harvestTick: Duration { .milliseconds(2) }

    /// The call's progress display, when it has one.
    private let progress: ProgressChannel?
    /// Tasks each worker claims at a time from a ``SharedBatch``, when the call's batches are
    /// shared (the call's batch size); `nil` when every batch runs on one worker.
    private let sharedClaimSize: Int?
    private var started = false
    private var closed = false

    package init(
        plan: CallPlan, call: any BackendCall, source: TaskSource<Element>,
        kernel: TaskKernel<Element, Output>, delivery: CallStateMachine<Output>.Delivery,
        keepsGoing: Bool = false, maxFailures: Int? = nil, backendSharesBatches: Bool = false
    ) {
        self.plan = plan
        self.call = call
        self.source = source
        self.kernel = kernel
        self.inputs = TakenInputs(of: source)
        self.watchdog = plan.timeout.map(TimeoutWatchdog.init(timeout:))
        let progress = plan.reportsProgress ? ProgressChannel(plan.progress) : nil
        self.progress = progress?.isActive == true ? progress : nil
        self.harvestsRunningBatches = delivery != .list || progress?.isActive == true
        let claimSize = Self.sharedClaimSize(
            plan: plan, source: source, delivery: delivery, keepsGoing: keepsGoing, maxFailures: maxFailures,
            backendSharesBatches: backendSharesBatches)
        self.sharedClaimSize = claimSize
        // The machine cuts shared batches: it sees one batch where the workers see many claims.
        let batchSize =
            claimSize.map { BatchSize.fixed($0 * Self.claimsPerSharedBatch(claimSize: $0)) } ?? plan.batchSize
        var configuration = CallStateMachine<Output>.Configuration(
            nJobs: plan.nJobs, preDispatch: plan.preDispatch, batchSize: batchSize,
            autoBatching: plan.backend.autoBatching, delivery: delivery, keepsGoing: keepsGoing,
            maxFailures: maxFailures, retry: plan.retry, timeout: plan.timeout, verbose: plan.verbose,
            nJobsLabel: plan.nJobsLabel, backendName: plan.backend.displayName, notices: plan.notices,
            knownCount: source.knownCount, reportsProgress: progress?.isActive == true)
        configuration.handOffBatches = Self.handOffBatches(
            plan: plan, batchSize: batchSize, source: source, maxFailures: maxFailures)
        configuration.releasesInputs = source.array == nil
        self.machine = CallStateMachine(configuration)
    }

    deinit {
        // A consumer that drops its generator early: stop the work, free the workers.
        timer?.cancel()
        ticker?.cancel()
        progress?.finish(now: MonotonicClock.now())
        if started && !closed {
            watchdog?.stop()
            for entry in batches.values { entry.batch.progress.requestAbort() }
            call.abort()
        }
    }

    /// The hand-off reserve: how many batches are dispatched beyond joblib's window, so that
    /// workers take their next batch from the backend's queue and the driver refills it in bulk,
    /// or 0.
    ///
    /// Only for an input already in memory (an `Array`: taking it has no effect anyone can
    /// observe, so what is queued is still "what the caller has taken"), batches of a fixed size
    /// (auto batching makes batches long enough by itself), a backend in this process (a worker
    /// process's round trip dwarfs a wake-up), no verbose output (joblib's progress lines count
    /// dispatches) and no `maxFailures` (which must see each failure before more tasks start).
    /// Then 64 batches per worker, at most 65,536 tasks: enough that the workers do not run dry
    /// while the driver sleeps through half of them.
    static func handOffBatches(
        plan: CallPlan, batchSize: BatchSize, source: TaskSource<Element>, maxFailures: Int?
    ) -> Int {
        // A window below nJobs limits how many batches run at once (joblib dispatches the next
        // batch only when one completes); a reserve queued beyond it would run more.
        guard source.isInert, case .fixed(let size) = batchSize, let window = plan.preDispatch,
            window >= plan.nJobs, plan.verbose == 0, maxFailures == nil,
            !plan.backend.capabilities.runsOutOfProcess
        else { return 0 }
        let perWorker = 64
        let (batches, overflow) = plan.nJobs.multipliedReportingOverflow(by: perWorker)
        return min(overflow ? Int.max : batches, max(65_536 / max(size, 1), 1))
    }

    /// The batch size below which batches are shared.
    static var largestSharedClaimSize: Int { 63 }

    /// How many claims of `claimSize` tasks a shared batch holds: about 256 tasks, at least two
    /// claims. Enough that the driver's bookkeeping per shared batch (a few microseconds) is a
    /// few nanoseconds per task; small enough that a shared batch is a short piece of the input.
    static func claimsPerSharedBatch(claimSize: Int) -> Int { max(2, 256 / claimSize) }

    /// The claim size when the call's batches are shared (``SharedBatch``), else `nil`.
    ///
    /// Shared only where no one can tell a shared batch from the batches it stands for: a
    /// backend that runs several submissions at once in this process and takes the copies of one
    /// batch as independent submissions (`backendSharesBatches`: the built-in threading backend);
    /// the hand-off's conditions (an input already in memory, a fixed batch size, no verbose
    /// output — whose lines count batches — and no `maxFailures`); a throwing list call (a
    /// generator or a results call sees results per batch and fates per task); no timeout (it
    /// watches each batch's running task) and no retries (which re-run a failed batch); two
    /// workers or more; and a batch size below 64, above which a batch's bookkeeping is already a
    /// small part of its tasks. A progress display does not prevent it: it counts tasks, and a
    /// shared batch counts each completed claim.
    static func sharedClaimSize(
        plan: CallPlan, source: TaskSource<Element>, delivery: CallStateMachine<Output>.Delivery, keepsGoing: Bool,
        maxFailures: Int?, backendSharesBatches: Bool
    ) -> Int? {
        // A window below nJobs limits how many tasks run at once; every worker claims from a
        // shared batch.
        guard backendSharesBatches, source.isInert, case .fixed(let size) = plan.batchSize,
            size <= largestSharedClaimSize, let window = plan.preDispatch, window >= plan.nJobs, plan.verbose == 0,
            maxFailures == nil,
            delivery == .list, !keepsGoing, plan.timeout == nil, plan.retry.maxAttempts <= 1,
            plan.nJobs >= 2, !plan.backend.capabilities.runsOutOfProcess
        else { return nil }
        return size
    }

    // MARK: - Consuming

    /// Runs a throwing list call to the end and returns every result in submission order.
    package func collectValues(isolation: isolated (any Actor)? = #isolation) async throws -> [Output] {
        try await start()
        while !machine.isOver {
            try await waitAndHandle()
        }
        if let failure = machine.failure { throw failure }
        return machine.listResults
    }

    /// The next settled run in the delivery order, with the submission index of its first task;
    /// `nil` at the end.
    /// - Throws: the first final failure in the throwing modes, a `ParallelError`, or
    ///   `CancellationError`.
    package func nextRun(isolation: isolated (any Actor)?) async throws -> (firstIndex: Int, run: SettledRun<Output>)? {
        if !started { try await start() }
        while true {
            if inbox.hasPendingEvents { try await handle(inbox.takeAvailable()) }
            if let failure = machine.failure {
                // Thrown once; after that the sequence simply ends.
                if failureThrown { return nil }
                failureThrown = true
                throw failure
            }
            if let next = machine.takeDeliverable() {
                // Handed over: these no longer count against backpressure, so refill the workers
                // while the consumer walks the run.
                machine.resultsConsumed(next.run.count)
                try await perform()
                return next
            }
            if machine.isOver { return nil }
            // The consumer waits: what running batches have finished may be all it needs.
            if harvestsRunningBatches, try await harvest() { continue }
            try await waitAndHandle()
        }
    }

    private var failureThrown = false

    // MARK: - Events

    private func start(isolation: isolated (any Actor)? = #isolation) async throws {
        started = true
        watchdog?.start(posting: inbox)
        let now = MonotonicClock.now()
        progress?.start(total: source.knownCount, backend: plan.backend.displayName, nJobs: plan.nJobs, now: now)
        machine.start(now: now)
        if harvestsRunningBatches { startTicker() }
        try await perform()
    }

    /// Starts the ticker: while the driver waits, every ``harvestTick`` it is woken to harvest
    /// running batches (when it does), or to handle completions that piled up (when it lets
    /// them).
    private func startTicker() {
        let inbox = self.inbox
        let tick = Self.harvestTick
        let harvests = harvestsRunningBatches
        ticker = Task.detached {
            while !Task.isCancelled {
                try? await Task.sleep(for: tick)
                if inbox.isWaiting && (harvests || inbox.hasPendingEvents) { inbox.post(.tick) }
            }
        }
    }

    /// Settles what running batches have finished so far: outputs their in-process runners
    /// published, and counts that process backends report (for progress only). Returns whether
    /// anything new settled.
    ///
    /// A list call (its harvest is for the progress display alone) only counts what in-process
    /// runners published: its outputs are moved out once, when their batch ends, rather than
    /// copied out piece by piece for a consumer that wants them only at the end.
    /// - Complexity: O(batches in flight) plus, for a generator, the outputs copied.
    private func harvest(isolation: isolated (any Actor)? = #isolation) async throws -> Bool {
        if progress != nil { call.refreshProgress() }
        var settled = false
        let now = MonotonicClock.now()
        let countsOnly = machine.configuration.delivery == .list
        for (batchID, entry) in batches {
            if countsOnly {
                let published = results(of: entry).publishedCount
                let reported = max(published, entry.batch.progress.completedTasks)
                if reported > 0 { machine.batchTasksCompleted(batchID, upTo: entry.batch.firstIndex + reported) }
                continue
            }
            let fresh = results(of: entry).copyPublished(from: entry.harvested)
            if !fresh.isEmpty {
                batches[batchID]?.harvested += fresh.count
                machine.batchPrefixCompleted(batchID, values: fresh, now: now)
                settled = true
            }
            if progress != nil {
                let reported = entry.batch.progress.completedTasks
                if reported > 0 { machine.batchTasksCompleted(batchID, upTo: entry.batch.firstIndex + reported) }
            }
        }
        try await perform()
        return settled
    }

    private func waitAndHandle(isolation: isolated (any Actor)? = #isolation) async throws {
        if Task.isCancelled {
            machine.abort()
            try await perform()
            throw CancellationError()
        }
        // With many batches queued at the backend, let completions pile up to half of them
        // before waking: the workers take the queued batches meanwhile, and the refill is one
        // wake-up for many batches. The ticker bounds how long a pile-up can wait.
        let completions = machine.configuration.delivery == .list && batches.count >= 8 ? batches.count / 2 : 1
        if completions > 1 && ticker == nil { startTicker() }
        let events: [CompletionInbox.Event]
        do {
            events = try await inbox.next(batchingUpTo: completions)
        } catch {
            machine.abort()
            try await perform()
            throw error
        }
        try await handle(events)
    }

    /// Reports every event to the machine, then carries out what it decided: a burst of
    /// completions becomes one refill of the backend's queue.
    private func handle(_ events: [CompletionInbox.Event], isolation: isolated (any Actor)? = #isolation) async throws {
        for event in events {
            switch event {
            case .completed(let batchID, let outcome, let time):
                guard let entry = batches.removeValue(forKey: batchID) else { continue }
                watchdog?.forget(batchID: batchID)
                machine.batchCompleted(batchID, report(outcome, of: entry, at: time), now: time)
            case .tick:
                if harvestsRunningBatches { _ = try await harvest() }
            case .timedOut(let taskIndex, let time):
                machine.taskTimedOut(taskIndex, now: time)
            case .timer(let time):
                machine.timerFired(now: time)
            }
        }
        try await perform()
    }

    /// Turns a backend's outcome into the machine's report: outputs published in place are moved
    /// out of the batch's slots, a prefix already settled while the batch ran is left out, and the
    /// output type is checked once per batch (a backend that returns the wrong type is an error,
    /// never a crash).
    private func report(
        _ outcome: BatchOutcome, of entry: InFlightBatch, at time: UInt64
    ) -> CallStateMachine<Output>.BatchReport {
        let begin = entry.batch.progress.startedAt ?? entry.dispatchedAt
        let end = entry.batch.progress.endedAt ?? time
        let duration = Double(end &- begin) / 1e9
        let skipped = entry.harvested
        let completed = max(outcome.completedCount - skipped, 0)
        var values: [Output]?
        if outcome.resultsArePublished {
            let slots = results(of: entry)
            let published = min(outcome.completedCount, slots.publishedCount)
            values = slots.moveOut(min(skipped, published)..<published)
        } else if let erased = outcome.values {
            guard let typed = erased as? [Output] else {
                let failure = ParallelError(
                    .invalidArgument, taskIndex: entry.batch.firstIndex,
                    "the backend returned results of type \(type(of: erased)) for tasks whose output is \(Output.self): "
                        + "the backend is broken. Report it to its author.")
                return CallStateMachine.BatchReport(values: [], completedCount: 0, failure: failure, duration: duration)
            }
            values = skipped == 0 ? typed : Array(typed.dropFirst(skipped))
        }
        return CallStateMachine.BatchReport(
            values: values, completedCount: completed, failure: outcome.failure,
            isFailureAttributed: outcome.isFailureAttributed, duration: duration)
    }

    /// The typed slots of a batch in flight.
    private func results(of entry: InFlightBatch) -> LiveResults<Output> {
        unsafeDowncast(entry.results, to: LiveResults<Output>.self)
    }

    // MARK: - Actions

    /// Carries out every action the machine has queued, in order.
    private func perform(isolation: isolated (any Actor)? = #isolation) async throws {
        defer { submitGathered() }
        while let action = machine.nextAction() {
            if case .submit = action {} else { submitGathered() }
            switch action {
            case .take(let count):
                let taken: ArraySlice<Element>
                do {
                    taken = try await source.take(count, isolation: isolation)
                } catch {
                    machine.inputFailed(error)
                    continue
                }
                inputs.append(taken)
                machine.inputsTaken(taken.count)
            case .takeRest:
                var count = 0
                while true {
                    let chunk = (try? await source.take(4096, isolation: isolation)) ?? []
                    count += chunk.count
                    if chunk.count < 4096 { break }
                }
                machine.inputsTaken(count)
            case .submit(let batchID, let range):
                // Gathered and handed over at once, at the next action of another kind or when
                // the machine has nothing more to say: one lock round trip for a whole refill.
                prepare(batchID, range)
                continue
            case .stopBatchesBeforeNextTask:
                for entry in batches.values { entry.batch.progress.requestAbort() }
            case .abandon(let batchID):
                if let entry = batches.removeValue(forKey: batchID) {
                    watchdog?.forget(batchID: batchID)
                    entry.batch.progress.requestAbort()
                    call.abandon(entry.batch)
                }
            case .print(let line):
                emit(line)
            case .wakeUp(let deadline):
                scheduleTimer(at: deadline)
            case .releaseInputs(let index):
                inputs.release(below: index)
            case .abortCall:
                guard !closed else { continue }
                closed = true
                timer?.cancel()
                ticker?.cancel()
                watchdog?.stop()
                for entry in batches.values { entry.batch.progress.requestAbort() }
                batches.removeAll()
                call.abort()
                if let progress {
                    progress.finish(now: MonotonicClock.now())
                    await progress.waitUntilDelivered()
                }
            case .finishCall:
                guard !closed else { continue }
                closed = true
                timer?.cancel()
                ticker?.cancel()
                watchdog?.stop()
                await call.finish()
                if let progress {
                    progress.finish(now: MonotonicClock.now())
                    await progress.waitUntilDelivered()
                }
            case .progress(let note):
                guard let progress else { continue }
                switch note {
                case .completed(let count): progress.tasksCompleted(count: count, now: MonotonicClock.now())
                case .failed(let failure, let willRetry):
                    progress.taskFailed(failure, willRetry: willRetry, now: MonotonicClock.now())
                case .totalKnown(let total): progress.totalBecameKnown(total)
                }
            }
        }
    }

    /// Batches prepared by ``perform()`` and not yet handed to the backend.
    private var submissions: [BatchSubmission] = []

    private func submitGathered() {
        guard !submissions.isEmpty else { return }
        let gathered = submissions
        submissions.removeAll(keepingCapacity: true)
        if gathered.count == 1 {
            call.submit(gathered[0].batch, completion: gathered[0].completion)
        } else {
            call.submit(gathered)
        }
    }

    /// Builds batch `batchID` for the tasks `range`, records it as in flight, and gathers what
    /// the backend is handed: the batch, or one copy of a shared batch per worker.
    private func prepare(_ batchID: Int, _ range: Range<Int>) {
        if let claimSize = sharedClaimSize, range.count > claimSize {
            prepareShared(batchID, range, claimSize: claimSize)
        } else {
            submissions.append(prepareSingle(batchID, range))
        }
    }

    /// A batch that one worker runs.
    private func prepareSingle(_ batchID: Int, _ range: Range<Int>) -> BatchSubmission {
        let chunk = inputs.slice(range)
        let progress = BatchProgress()
        let run = kernel.run
        let results = LiveResults<Output>(capacity: range.count)
        let batch = TaskBatch(
            firstIndex: range.lowerBound, count: range.count, progress: progress,
            portable: kernel.portable?(chunk), tracksEachTask: plan.timeout != nil,
            scope: plan.taskScope, runner: { progress, track in await run(chunk, progress, track, results) })
        batches[batchID] = InFlightBatch(batch: batch, dispatchedAt: MonotonicClock.now(), results: results)
        watchdog?.watch(batchID: batchID, firstIndex: range.lowerBound, progress: progress)
        let inbox = self.inbox
        return BatchSubmission(batch: batch) { outcome in
            inbox.post(.completed(batchID: batchID, outcome: outcome, at: MonotonicClock.now()))
        }
    }

    /// A batch every worker claims `claimSize` tasks at a time from: one copy per worker, whose
    /// last to end reports the batch (``SharedBatch``).
    private func prepareShared(_ batchID: Int, _ range: Range<Int>, claimSize: Int) {
        let progress = BatchProgress()
        let claims = (range.count + claimSize - 1) / claimSize
        let copies = min(plan.nJobs, claims)
        let shared = SharedBatch(
            tasks: inputs.slice(range), claimSize: claimSize, copies: copies, progress: progress,
            countsCompletedTasks: self.progress != nil, run: kernel.run)
        let inbox = self.inbox
        var first: TaskBatch?
        for _ in 0..<copies {
            let batch = TaskBatch(
                firstIndex: range.lowerBound, count: range.count, progress: progress, portable: nil,
                tracksEachTask: false, scope: plan.taskScope,
                runner: { _, _ in
                    await shared.runClaims()
                    // What the batch did is reported once, by the copy that ends last.
                    return BatchOutcome(publishedCount: 0, failure: nil)
                })
            if first == nil { first = batch }
            submissions.append(
                BatchSubmission(batch: batch) { copyOutcome in
                    guard let outcome = shared.runEnded(copyOutcome) else { return }
                    inbox.post(.completed(batchID: batchID, outcome: outcome, at: MonotonicClock.now()))
                })
        }
        batches[batchID] = InFlightBatch(batch: first!, dispatchedAt: MonotonicClock.now(), results: shared.results)
    }

    private func scheduleTimer(at deadline: UInt64) {
        timer?.cancel()
        let inbox = self.inbox
        timer = Task.detached {
            let now = MonotonicClock.now()
            if deadline > now {
                try? await Task.sleep(nanoseconds: deadline - now)
            }
            if Task.isCancelled { return }
            inbox.post(.timer(at: MonotonicClock.now()))
        }
    }

    private func emit(_ line: ProgressLine) {
        VerboseOutput.write(line, verbose: plan.verbose, nJobsLabel: plan.nJobsLabel, above: progress)
    }
}

/// A batch the backend runs, and the slots its in-process runner publishes into.
///
/// Not nested in ``ParallelCall``: a type nested in a generic type is generic too, and the
/// driver's dictionary of batches in flight would look its metadata up at run time on every
/// access (the driver's code is not specialised). The slots are held type-erased for that reason;
/// ``ParallelCall`` knows their type.
private struct InFlightBatch {
    var batch: TaskBatch
    var dispatchedAt: UInt64
    /// The batch's `LiveResults<Output>`.
    var results: AnyObject
    /// Published outputs already settled through the machine while the batch ran.
    var harvested = 0
}

/// Something that yields a call's settled runs in delivery order: the engine's drivers.
package protocol SettledRunSource<Output>: AnyObject {
    associatedtype Output: Sendable
    /// The next settled run, with the submission index of its first task; `nil` at the end.
    func nextRun(isolation: isolated (any Actor)?) async throws -> (firstIndex: Int, run: SettledRun<Output>)?
}
