import Foundation

/// Drives one call with workers: takes inputs, forms batches, submits them to the backend, reacts
/// to completions, failures and timeouts, orders results, prints progress, and stops everything on
/// the first error, on cancellation or when its consumer goes away.
///
/// The dispatch rules are joblib's (`dispatch_one_batch`, `_start`, the completion callback):
/// the pre-dispatch window is dispatched at the start, then every completed batch dispatches one
/// more, so the number of batches in flight stays what the window made it. The arithmetic lives in
/// the pure ``DispatchPlanner``, ``AutoBatchSizer``, ``OrderedResults`` and
/// ``ProgressReporter``; this class only sequences them and does the I/O.
///
/// It runs entirely on the caller's isolation: completions from backend threads arrive through a
/// ``CompletionInbox`` and are handled here, so no state below needs a lock. A generator with a
/// slow consumer holds back further dispatches once about two rounds of results wait unconsumed,
/// which keeps memory bounded (joblib has no such backpressure).
package final class ParallelCall<Element: Sendable, Output: Sendable>: ResultProducer {
    /// How results reach the consumer.
    package enum Delivery {
        /// All results, in submission order, at the end (`callAsFunction`).
        case list
        /// Each result in submission order as soon as it and those before it are done.
        case ordered
        /// Each batch's results as soon as the batch completes.
        case unordered
    }

    private struct InFlight {
        var firstIndex: Int
        var count: Int
        var progress: BatchProgress
        var dispatchedAt: UInt64
    }

    private let plan: CallPlan
    private let call: any BackendCall
    private let source: TaskSource<Element>
    private let kernel: TaskKernel<Element, Output>
    private let delivery: Delivery
    private let inbox = CompletionInbox()
    private let watchdog: TimeoutWatchdog?
    private let reporter: ProgressReporter

    private var planner: DispatchPlanner
    private var sizer: AutoBatchSizer?
    private let tailRule: Bool
    private var counters = ProgressReporter.Counters(iterating: false)
    private var readyChunks: [ArraySlice<Element>] = []
    private var readyHead = 0
    private var inFlight: [Int: InFlight] = [:]
    private var nextBatchID = 0
    private var nextTaskIndex = 0
    private var sourceDrained = false

    private var ordered = OrderedResults<Output>()
    private var listResults: [Output] = []
    private var deliverable: [[Output]] = []
    private var deliverableHead = 0
    /// Results completed but not yet handed to the consumer (parked or queued).
    private var heldResults = 0
    private var deferredDispatches = 0

    private var failure: (any Error)?
    private var failureReported = false
    private var started = false
    private var closed = false
    private var printedFinished = false

    package init(
        plan: CallPlan, call: any BackendCall, source: TaskSource<Element>,
        kernel: TaskKernel<Element, Output>, delivery: Delivery
    ) {
        self.plan = plan
        self.call = call
        self.source = source
        self.kernel = kernel
        self.delivery = delivery
        self.watchdog = plan.timeout.map(TimeoutWatchdog.init(timeout:))
        self.reporter = ProgressReporter(
            verbose: plan.verbose, nJobsLabel: plan.nJobsLabel, totalTasks: source.knownCount,
            preDispatchAmount: plan.preDispatch ?? 0, startTime: MonotonicClock.now())
        self.planner = DispatchPlanner(nJobs: plan.nJobs, preDispatch: plan.preDispatch)
        self.tailRule = plan.preDispatch != nil
        if case .auto = plan.batchSize { sizer = AutoBatchSizer(policy: plan.backend.autoBatching) }
    }

    deinit {
        // A consumer that drops its generator early: stop the work, free the workers.
        if started && !closed { abortAll() }
    }

    // MARK: - Consuming

    /// Runs the call to the end and returns every result in submission order.
    package func collect(isolation: isolated (any Actor)? = #isolation) async throws -> [Output] {
        if let count = source.knownCount { listResults.reserveCapacity(count) }
        start()
        while !isComplete {
            if let failure { throw failure }
            if Task.isCancelled {
                abortAll()
                throw CancellationError()
            }
            try await handle(waitForEvents())
        }
        if let failure { throw failure }
        await close()
        return listResults
    }

    /// The next run of results, as the delivery mode orders them: a whole batch at a time, so the
    /// consumer's iterator walks it without calling back here per result.
    package func nextBatch(isolation: isolated (any Actor)?) async throws -> [Output]? {
        if !started { start() }
        while true {
            if inbox.hasPendingEvents { handle(inbox.takeAvailable()) }
            if let failure {
                // Thrown once; after that the sequence simply ends.
                if failureReported { return nil }
                failureReported = true
                throw failure
            }
            if deliverableHead < deliverable.count {
                let batch = deliverable[deliverableHead]
                deliverable[deliverableHead] = []
                deliverableHead += 1
                if deliverableHead == deliverable.count {
                    deliverable.removeAll(keepingCapacity: true)
                    deliverableHead = 0
                }
                // Handed over: these no longer count against backpressure, so refill the
                // workers while the consumer walks the batch.
                heldResults -= batch.count
                replayDeferredDispatches()
                return batch
            }
            if isComplete {
                if !closed { await close() }
                return nil
            }
            if Task.isCancelled {
                abortAll()
                throw CancellationError()
            }
            replayDeferredDispatches()
            if isComplete { continue }
            try await handle(waitForEvents())
        }
    }

    // MARK: - Dispatch

    /// joblib's `_start`: dispatch the pre-dispatch window (or, with "all", the whole input).
    private func start() {
        started = true
        for notice in plan.notices { reporter.emit(notice, toStandardOutput: true) }
        reporter.emit("Using backend \(plan.backend.displayName) with \(plan.nJobs) concurrent workers.")
        watchdog?.start(posting: inbox)
        if dispatchOneBatch() {
            counters.iterating = plan.preDispatch != nil
        }
        while dispatchOneBatch() {}
        planner.closeWindow()
        if plan.preDispatch == nil { counters.iterating = false }
    }

    /// joblib's `dispatch_one_batch`: a ready batch if one is queued, else take
    /// `batchSize * nJobs` inputs and split them into batches. Returns whether one was submitted.
    private func dispatchOneBatch() -> Bool {
        guard failure == nil, !closed else { return false }
        let batchSize = currentBatchSize()
        if readyHead < readyChunks.count {
            let chunk = readyChunks[readyHead]
            readyChunks[readyHead] = []
            readyHead += 1
            submit(chunk)
            return true
        }
        readyChunks.removeAll(keepingCapacity: true)
        readyHead = 0
        guard !sourceDrained else { return false }
        let asked = planner.takeCount(batchSize: batchSize)
        guard asked > 0 else { return false }
        let taken = source.take(asked)
        if taken.count < asked { sourceDrained = true }
        guard !taken.isEmpty else { return false }
        let size = planner.split(taken: taken.count, asked: asked, batchSize: batchSize, tailRule: tailRule)
        var start = taken.startIndex
        while start < taken.endIndex {
            let end = taken.endIndex - start > size ? start + size : taken.endIndex
            readyChunks.append(taken[start..<end])
            start = end
        }
        let chunk = readyChunks[0]
        readyChunks[0] = []
        readyHead = 1
        submit(chunk)
        return true
    }

    /// joblib's `dispatch_next`, run after each completed batch.
    private func dispatchNext() {
        guard counters.iterating || readyHead < readyChunks.count else { return }
        if !dispatchOneBatch() { counters.iterating = false }
    }

    private func currentBatchSize() -> Int {
        switch plan.batchSize {
        case .fixed(let size):
            return size
        case .auto:
            let (size, message) = sizer!.nextBatchSize()
            if let message, plan.verbose >= 10 { reporter.emit(message) }
            return size
        }
    }

    private func submit(_ chunk: ArraySlice<Element>) {
        let batchID = nextBatchID
        nextBatchID += 1
        let firstIndex = nextTaskIndex
        nextTaskIndex += chunk.count
        counters.dispatchedTasks += chunk.count
        counters.dispatchedBatches += 1
        let progress = BatchProgress()
        let run = kernel.run
        let batch = TaskBatch(
            firstIndex: firstIndex, count: chunk.count, progress: progress,
            portable: kernel.portable?(chunk), tracksEachTask: plan.timeout != nil,
            scope: plan.taskScope, runner: { progress, track in await run(chunk, progress, track) })
        inFlight[batchID] = InFlight(
            firstIndex: firstIndex, count: chunk.count, progress: progress, dispatchedAt: MonotonicClock.now())
        watchdog?.watch(batchID: batchID, firstIndex: firstIndex, progress: progress)
        let inbox = self.inbox
        call.submit(batch) { outcome in
            inbox.post(.completed(batchID: batchID, outcome: outcome, at: MonotonicClock.now()))
        }
    }

    // MARK: - Events

    private func waitForEvents(isolation: isolated (any Actor)? = #isolation) async throws -> [CompletionInbox.Event] {
        do {
            return try await inbox.next()
        } catch {
            abortAll()
            throw error
        }
    }

    private func handle(_ events: [CompletionInbox.Event]) {
        for event in events {
            guard failure == nil else { return }
            switch event {
            case .completed(let batchID, let outcome, let time):
                completed(batchID: batchID, outcome: outcome, at: time)
            case .timedOut(let taskIndex, let timeout):
                fail(
                    ParallelError(
                        .timeout, taskIndex: taskIndex,
                        "task \(taskIndex) ran longer than the timeout of \(String(format: "%g", timeout.seconds)) s and was abandoned. "
                            + "Raise `timeout`, or make the task finish sooner."),
                    taskIndex: taskIndex)
            }
        }
    }

    private func completed(batchID: Int, outcome: BatchOutcome, at time: UInt64) {
        guard let flight = inFlight.removeValue(forKey: batchID) else { return }
        watchdog?.forget(batchID: batchID)
        if let error = outcome.failure {
            fail(error, taskIndex: flight.firstIndex + outcome.completedCount)
            return
        }
        let values = outcome.values.map { $0 as! [Output] } ?? []
        if sizer != nil {
            let begin = flight.progress.startedAt ?? flight.dispatchedAt
            let end = flight.progress.endedAt ?? time
            sizer!.batchCompleted(size: flight.count, duration: Double(end &- begin) / 1e9)
        }
        counters.completedTasks += values.count
        deliver(firstIndex: flight.firstIndex, values)
        report()
        if delivery != .list && heldResults >= backpressureLimit {
            deferredDispatches += 1
        } else {
            dispatchNext()
        }
        if isComplete { report() }
    }

    private func deliver(firstIndex: Int, _ values: [Output]) {
        switch delivery {
        case .list:
            ordered.insert(firstIndex: firstIndex, values: values)
            while let ready = ordered.popReady() { listResults.append(contentsOf: ready) }
        case .ordered:
            heldResults += values.count
            ordered.insert(firstIndex: firstIndex, values: values)
            while let ready = ordered.popReady() { deliverable.append(ready) }
        case .unordered:
            heldResults += values.count
            deliverable.append(values)
        }
    }

    /// Results held back before dispatch pauses: two rounds of batches across the workers, and
    /// never less than the pre-dispatch window.
    private var backpressureLimit: Int {
        let batch: Int
        switch plan.batchSize {
        case .fixed(let size): batch = size
        case .auto: batch = sizer?.batchSize ?? 1
        }
        return max(2 * plan.nJobs * batch, plan.preDispatch ?? 0, 16)
    }

    private func replayDeferredDispatches() {
        while deferredDispatches > 0 && heldResults < backpressureLimit && failure == nil {
            deferredDispatches -= 1
            dispatchNext()
        }
    }

    private func report() {
        if printedFinished { return }
        guard let line = reporter.progressLine(counters, now: MonotonicClock.now()) else { return }
        if line.hasSuffix("finished") {
            if !isComplete { return }
            printedFinished = true
        }
        reporter.emit(line)
    }

    private var isComplete: Bool {
        failure == nil && !counters.iterating && inFlight.isEmpty && readyHead >= readyChunks.count
            && deferredDispatches == 0
    }

    // MARK: - Failure and teardown

    private func fail(_ error: any Error, taskIndex: Int) {
        guard failure == nil else { return }
        failure = error
        counters.aborting = true
        if plan.verbose > 0 && !(error is CancellationError) {
            reporter.emit("Task \(taskIndex) failed: \(String(describing: error))")
        }
        abortAll()
    }

    /// Stops dispatch, tells running batches to stop, and lets the backend kill what it can.
    private func abortAll() {
        guard !closed else { return }
        closed = true
        counters.aborting = true
        watchdog?.stop()
        for flight in inFlight.values { flight.progress.requestAbort() }
        inFlight.removeAll()
        readyChunks.removeAll()
        readyHead = 0
        call.abort()
    }

    private func close(isolation: isolated (any Actor)? = #isolation) async {
        guard !closed else { return }
        closed = true
        watchdog?.stop()
        await call.finish()
    }
}
