import Foundation

// What completions, timeouts, timers and cancellation mean for each task.

extension CallStateMachine {
    /// Batch `batchID` ended. A batch that is no longer awaited (the call aborted, or it was
    /// abandoned after a timeout) is ignored.
    package mutating func batchCompleted(_ batchID: Int, _ report: BatchReport, now: UInt64) {
        lastNow = now
        guard let flight = inFlight.removeValue(forKey: batchID) else { return }
        let range = flight.range
        if flight.isFresh, sizer != nil, report.failure == nil {
            sizer!.batchCompleted(size: flight.size, duration: report.duration)
        }
        // A batch's slot passes to the re-runs that replace it; a batch that is not replaced pays
        // back one dispatch, so the number of batches in flight stays what the window made it.
        let rerunsBefore = reruns.count
        var replaced = false
        if let error = report.failure {
            let offset = min(max(report.completedCount, 0), range.count - (range.isEmpty ? 0 : 1))
            let failedIndex = range.lowerBound + offset
            if let values = report.values, !values.isEmpty {
                settle(range.lowerBound, .succeeded(Array(values.prefix(offset))))
            } else if offset > 0 {
                // The prefix's results died with the worker: run those tasks again.
                requeue(range.lowerBound..<failedIndex)
                replaced = true
            }
            if phase == .stopping && error is CancellationError {
                // Stopped at our request before its next task: the rest never starts.
                settleNotRun(failedIndex..<range.upperBound)
            } else if isCrash(error) && !report.isFailureAttributed && range.count > 1 {
                bisect(range, after: error)
                replaced = true
            } else if isCrash(error) && !report.isFailureAttributed, var crash = error as? ParallelError {
                // A crash the backend could not attribute, narrowed down to this task alone.
                crash.taskIndex = failedIndex
                taskFailed(failedIndex, crash, now: now)
            } else {
                taskFailed(failedIndex, error, now: now)
                if failedIndex + 1 < range.upperBound {
                    requeue((failedIndex + 1)..<range.upperBound)
                    replaced = true
                }
            }
        } else {
            let values = report.values ?? []
            if values.count == range.count {
                settle(range.lowerBound, .succeeded(values))
            } else {
                failCall(
                    ParallelError(
                        .invalidArgument, taskIndex: range.lowerBound,
                        "the backend reported \(values.count) results for the \(range.count) tasks "
                            + "\(range.lowerBound)..<\(range.upperBound): the backend is broken. Report it to its author."
                    ),
                    taskIndex: range.lowerBound)
            }
        }
        if !replaced && reruns.count == rerunsBefore { owedDispatches += 1 }
        afterEvent()
    }

    /// The first `values.count` tasks still awaited in batch `batchID` completed while the batch
    /// runs (an in-process runner published them): they settle now, so a generator's consumer
    /// and the progress display see them per task rather than when the batch ends. The batch stays
    /// in flight for the rest; its completion reports only the tasks after these.
    /// - Complexity: O(1) apart from handing the values on.
    package mutating func batchPrefixCompleted(_ batchID: Int, values: [Output], now: UInt64) {
        lastNow = now
        guard phase == .running || phase == .stopping, !values.isEmpty, var flight = inFlight[batchID],
            values.count <= flight.range.count
        else { return }
        let first = flight.range.lowerBound
        flight.range = (first + values.count)..<flight.range.upperBound
        inFlight[batchID] = flight
        settle(first, .succeeded(values))
        if configuration.releasesInputs { emit(.releaseInputs(below: lowestNeededInput)) }
    }

    /// A backend reported that the tasks of batch `batchID` below submission index `index`
    /// completed, while the batch runs and without their results (a worker process's status
    /// page): they count for progress now; they settle when the batch's outcome brings them.
    package mutating func batchTasksCompleted(_ batchID: Int, upTo index: Int) {
        guard configuration.reportsProgress, phase == .running || phase == .stopping,
            var flight = inFlight[batchID]
        else { return }
        let start = max(flight.range.lowerBound, flight.countedUpTo)
        let end = min(index, flight.range.upperBound)
        guard end > start else { return }
        flight.countedUpTo = end
        inFlight[batchID] = flight
        // A re-run of tasks counted ahead in a batch that then lost their outputs (its worker
        // crashed) reports them again: they were counted once already.
        var newlyCounted = 0
        for part in uncountedParts(of: start..<end) {
            countedAhead.append(part)
            newlyCounted += part.count
        }
        if newlyCounted > 0 { emit(.progress(.completed(count: newlyCounted))) }
    }

    /// The parts of `range` not yet counted ahead.
    /// - Complexity: O(ranges counted ahead), a handful: they are consumed as batches settle.
    func uncountedParts(of range: Range<Int>) -> [Range<Int>] {
        var parts = [range]
        for counted in countedAhead where counted.overlaps(range) {
            parts = parts.flatMap { part -> [Range<Int>] in
                let shared = counted.clamped(to: part)
                guard !shared.isEmpty else { return [part] }
                return [part.lowerBound..<shared.lowerBound, shared.upperBound..<part.upperBound].filter { !$0.isEmpty }
            }
        }
        return parts
    }

    /// A task ran longer than the call's timeout.
    package mutating func taskTimedOut(_ taskIndex: Int, now: UInt64) {
        lastNow = now
        guard phase == .running || phase == .stopping else { return }
        guard let (batchID, flight) = inFlight.first(where: { $0.value.range.contains(taskIndex) }) else { return }
        let error = ParallelError(
            .timeout, taskIndex: taskIndex,
            "task \(taskIndex) ran longer than the timeout of \(Self.seconds(configuration.timeout)) s and was abandoned. "
                + "Raise `timeout`, or make the task finish sooner.")
        inFlight.removeValue(forKey: batchID)
        emit(.abandon(batchID: batchID))
        let rerunsBefore = reruns.count
        // Whatever the abandoned batch computed is dropped: its other tasks run again.
        let range = flight.range
        requeue(range.lowerBound..<taskIndex)
        taskFailed(taskIndex, error, now: now)
        if taskIndex + 1 < range.upperBound {
            if phase == .stopping {
                settleNotRun((taskIndex + 1)..<range.upperBound)
            } else {
                requeue((taskIndex + 1)..<range.upperBound)
            }
        }
        if reruns.count == rerunsBefore { owedDispatches += 1 }
        afterEvent()
    }

    /// The wake-up asked for with ``EngineAction/wakeUp(at:)`` is due: start the retries that are.
    package mutating func timerFired(now: UInt64) {
        lastNow = now
        wakeUpAt = nil
        guard phase == .running else { return }
        var waiting: [TaskRetryWait] = []
        for wait in retryWaits {
            if wait.due <= now {
                reruns.append(wait.index..<(wait.index + 1))
            } else {
                waiting.append(wait)
            }
        }
        retryWaits = waiting
        afterEvent()
    }

    /// The calling task was cancelled, or the consumer stopped iterating: stop everything.
    package mutating func abort() {
        guard !isOver else { return }
        phase = .aborted
        counters.aborting = true
        clearWork()
        emit(.abortCall)
    }

    // MARK: - Per-task rules

    /// Applies the retry policy to a task's failure, then either schedules the retry or makes the
    /// failure final (a value in the results modes, the call's end otherwise).
    mutating func taskFailed(_ index: Int, _ error: any Error, now: UInt64) {
        let attempt = attempts[index, default: 0] + 1
        attempts[index] = attempt
        let record = TaskFailure(taskIndex: index, error: error, attempts: attempt)
        if phase == .running && attempt < configuration.retry.maxAttempts && configuration.retry.shouldRetry(record) {
            let delay = configuration.retry.delay(beforeRetry: attempt)
            counters.retried += 1
            if configuration.reportsProgress { emit(.progress(.failed(record, willRetry: true))) }
            if configuration.verbose >= 10 {
                let wait = delay > .zero ? " in \(Self.seconds(delay)) s" : ""
                say(
                    "Task \(index) failed (attempt \(attempt) of \(configuration.retry.maxAttempts)), retrying\(wait): \(error)"
                )
            }
            if delay > .zero {
                let due = now &+ delay.nanoseconds
                retryWaits.append(TaskRetryWait(due: due, index: index, lastFailure: record))
                scheduleWakeUp()
            } else {
                reruns.append(index..<(index + 1))
            }
            return
        }
        guard configuration.keepsGoing else {
            failCall(error, taskIndex: index)
            return
        }
        finalFailures += 1
        if configuration.reportsProgress { emit(.progress(.failed(record, willRetry: false))) }
        if configuration.verbose > 0 && !(error is CancellationError) {
            say("Task \(index) failed: \(String(describing: error))")
        }
        settle(index, .failed(record))
        if let maxFailures = configuration.maxFailures, finalFailures >= maxFailures, phase == .running {
            stopStarting()
        }
    }

    /// Splits a batch whose crash could not be pinned on one task into two halves, each run again
    /// on its own, until a task crashes alone.
    mutating func bisect(_ range: Range<Int>, after error: any Error) {
        guard phase == .running else {
            // Nothing may start any more: the crash cannot be narrowed down, so it is every
            // task's failure.
            for index in range { taskFailed(index, error, now: 0) }
            return
        }
        let middle = range.lowerBound + range.count / 2
        reruns.append(range.lowerBound..<middle)
        reruns.append(middle..<range.upperBound)
    }

    /// Tasks that must run again; after `maxFailures` they never start instead.
    mutating func requeue(_ range: Range<Int>) {
        guard !range.isEmpty else { return }
        if phase == .running {
            reruns.append(range)
        } else if phase == .stopping {
            settleNotRun(range)
        }
    }

    /// `maxFailures` was reached: nothing new starts; every task not started settles as `.notRun`.
    mutating func stopStarting() {
        phase = .stopping
        fillingWindow = false
        while let range = fresh.popFirst() { settleNotRun(range) }
        while let range = reruns.popFirst() { settleNotRun(range) }
        for wait in retryWaits { settle(wait.index, .failed(wait.lastFailure)) }
        retryWaits.removeAll()
        if !inFlight.isEmpty { emit(.stopBatchesBeforeNextTask) }
        // The rest of the input settles as `.notRun`. A take already asked for is answered first
        // (its inputs never start either); ``inputsTaken(_:)`` then asks for the rest.
        if !sourceDrained && pendingTake == nil {
            pendingTake = .rest
            emit(.takeRest)
        }
        counters.iterating = false
    }

    mutating func settleNotRun(_ range: Range<Int>) {
        guard !range.isEmpty else { return }
        let limit = configuration.maxFailures ?? 0
        for index in range {
            let error = ParallelError(
                .notRun, taskIndex: index,
                "task \(index) was not started: the call stopped after \(limit) tasks failed (maxFailures: \(limit)). "
                    + "Raise maxFailures, or fix the failures and run again.")
            let failure = TaskFailure(taskIndex: index, error: error, attempts: 0)
            if configuration.reportsProgress { emit(.progress(.failed(failure, willRetry: false))) }
            settle(index, .failed(failure))
        }
    }

    /// The throwing modes' end: the first final failure stops everything.
    mutating func failCall(_ error: any Error, taskIndex: Int) {
        guard failure == nil, !isOver else { return }
        failure = error
        phase = .failed
        counters.aborting = true
        if configuration.verbose > 0 && !(error is CancellationError) {
            say("Task \(taskIndex) failed: \(String(describing: error))")
        }
        clearWork()
        emit(.abortCall)
    }

    mutating func clearWork() {
        fresh.removeAll()
        reruns.removeAll()
        retryWaits.removeAll()
        if !inFlight.isEmpty { emit(.stopBatchesBeforeNextTask) }
        inFlight.removeAll()
        fillingWindow = false
        owedDispatches = 0
    }

    // MARK: - Results

    /// Records settled tasks and hands them on as the delivery mode says.
    mutating func settle(_ firstIndex: Int, _ run: SettledRun<Output>) {
        let count = run.count
        guard count > 0 else { return }
        counters.completedTasks += count
        if configuration.reportsProgress {
            let counted = takeCountedAhead(firstIndex..<(firstIndex + count))
            if case .succeeded = run, count > counted { emit(.progress(.completed(count: count - counted))) }
        }
        switch configuration.delivery {
        case .list where !configuration.keepsGoing:
            if let next = ordered.releaseIfNext(firstIndex: firstIndex, run) {
                if case .succeeded(let values) = next { listResults.append(contentsOf: values) }
            }
            while let ready = ordered.popReady() {
                if case .succeeded(let values) = ready { listResults.append(contentsOf: values) }
            }
        case .list, .ordered:
            var start = ordered.nextIndex
            if let next = ordered.releaseIfNext(firstIndex: firstIndex, run) {
                deliverable.append((start, next))
                start += next.count
                if configuration.delivery == .ordered { heldResults += next.count }
            }
            while let ready = ordered.popReady() {
                deliverable.append((start, ready))
                start += ready.count
                if configuration.delivery == .ordered { heldResults += ready.count }
            }
        case .unordered:
            deliverable.append((firstIndex, run))
            heldResults += count
        }
    }

    /// How many of `range`'s tasks were already counted for progress while their batch ran; they
    /// are no longer "ahead" afterwards.
    mutating func takeCountedAhead(_ range: Range<Int>) -> Int {
        guard !countedAhead.isEmpty else { return 0 }
        var overlap = 0
        var kept: [Range<Int>] = []
        for counted in countedAhead {
            let shared = counted.clamped(to: range)
            overlap += shared.count
            if shared.isEmpty {
                kept.append(counted)
                continue
            }
            if counted.lowerBound < shared.lowerBound { kept.append(counted.lowerBound..<shared.lowerBound) }
            if shared.upperBound < counted.upperBound { kept.append(shared.upperBound..<counted.upperBound) }
        }
        countedAhead = kept
        return overlap
    }

    // MARK: - After each event

    mutating func afterEvent() {
        guard !isOver else { return }
        pump()
        if counters.iterating && sourceDrained && fresh.isEmpty && owedDispatches == 0 && inFlight.isEmpty
            && reruns.isEmpty
        {
            // The input is exhausted and only re-runs are left: no completion of a fresh batch
            // will come to make the dispatch that finds the input empty, so note it here.
            counters.iterating = false
        }
        report()
        if !retryWaits.isEmpty { scheduleWakeUp() }
        finishIfSettled()
        if phase == .running || phase == .stopping {
            if configuration.releasesInputs { emit(.releaseInputs(below: lowestNeededInput)) }
        }
    }

    mutating func finishIfSettled() {
        guard isSettled else { return }
        report()
        phase = .finished
        emit(.finishCall)
    }

    mutating func scheduleWakeUp() {
        guard let due = retryWaits.map(\.due).min() else { return }
        if wakeUpAt == due { return }
        wakeUpAt = due
        emit(.wakeUp(at: due))
    }

    /// joblib's progress line after a completion, if its frequency rule prints one now; the
    /// "finished" line only once every task has settled.
    mutating func report() {
        guard configuration.verbose > 0, !printedFinished else { return }
        if reporter.reportsFinished(counters) {
            guard isSettled else { return }
            printedFinished = true
        }
        guard let line = reporter.progressLine(counters, now: lastNow) else { return }
        emit(.print(ProgressLine(line)))
    }

    static func isCrashError(_ error: any Error) -> Bool {
        (error as? ParallelError)?.code == .workerCrashed
    }

    func isCrash(_ error: any Error) -> Bool { Self.isCrashError(error) }

    static func seconds(_ duration: Duration?) -> String {
        guard let duration else { return "?" }
        return String(format: "%g", duration.seconds)
    }
}
