// Taking inputs, forming batches and submitting them: joblib's dispatch rules.

extension CallStateMachine {
    /// The call starts: print the opening lines and dispatch the pre-dispatch window (with "all",
    /// the whole input).
    package mutating func start(now: UInt64) {
        guard phase == .idle else { return }
        phase = .running
        reporter.startTime = now
        lastNow = now
        for notice in configuration.notices { say(notice, destination: .standardOutput) }
        say("Using backend \(configuration.backendName) with \(configuration.nJobs) concurrent workers.")
        fillingWindow = true
        pump()
    }

    /// The driver took `count` inputs after a ``EngineAction/take(count:)`` or
    /// ``EngineAction/takeRest``; fewer than asked means the input is exhausted.
    package mutating func inputsTaken(_ count: Int) {
        guard let pending = pendingTake else { return }
        pendingTake = nil
        let first = takenCount
        takenCount += count
        switch pending {
        case .rest:
            sourceDrained = true
            counters.iterating = false
            counters.dispatchedTasks += count
            settleNotRun(first..<(first + count))
        case .dispatch(let asked, let batchSize, let window):
            if count < asked {
                sourceDrained = true
                if configuration.reportsProgress && configuration.knownCount == nil {
                    emit(.progress(.totalKnown(takenCount)))
                }
            }
            if phase != .running {
                // The call stopped while the inputs were being taken: they never start, nor does
                // the rest of the input.
                counters.dispatchedTasks += count
                settleNotRun(first..<(first + count))
                if phase == .stopping && !sourceDrained {
                    pendingTake = .rest
                    emit(.takeRest)
                }
            } else if count == 0 {
                dispatchFoundNothing(fillingWindow: window)
            } else {
                let size = planner.split(taken: count, batchSize: batchSize, tailRule: tailRule)
                var start = first
                let end = first + count
                while start < end {
                    let stop = end - start > size ? start + size : end
                    fresh.append(start..<stop)
                    start = stop
                }
                submit(fresh.popFirst()!, isFresh: true)
                dispatchSucceeded(fillingWindow: window)
            }
        }
        pump()
        finishIfSettled()
    }

    /// Taking inputs failed: an `AsyncSequence` input threw. The call ends with that error, in
    /// every mode (it is not a task's failure).
    package mutating func inputFailed(_ error: any Error) {
        guard pendingTake != nil else { return }
        pendingTake = nil
        sourceDrained = true
        failCall(error, taskIndex: takenCount)
    }

    /// Makes every dispatch the rules allow now: re-runs first, then the window or the dispatches
    /// owed by completed batches, unless backpressure holds them back.
    mutating func pump() {
        while pendingTake == nil {
            if phase == .running, let rerun = reruns.popFirst() {
                submit(rerun, isFresh: false)
                continue
            }
            guard phase == .running else { return }
            if fillingWindow {
                switch dispatchOne(fillingWindow: true) {
                case .submitted: dispatchSucceeded(fillingWindow: true)
                case .waitingForInputs: return
                case .nothing: dispatchFoundNothing(fillingWindow: true)
                }
                continue
            }
            guard owedDispatches > 0 else { return }
            if configuration.delivery != .list && heldResults >= backpressureLimit { return }
            owedDispatches -= 1
            // joblib's `dispatch_next`: a no-op once the input is exhausted and nothing is ready.
            guard counters.iterating || !fresh.isEmpty else { continue }
            switch dispatchOne(fillingWindow: false) {
            case .submitted: continue
            case .waitingForInputs: return
            case .nothing: dispatchFoundNothing(fillingWindow: false)
            }
        }
    }

    enum DispatchStep { case submitted, waitingForInputs, nothing }

    /// joblib's `dispatch_one_batch`: a ready batch if one is queued, else ask for
    /// `batchSize * nJobs` inputs to split into batches.
    mutating func dispatchOne(fillingWindow window: Bool) -> DispatchStep {
        // joblib sizes the batch before looking at ready batches; so does the auto sizer here,
        // since the size it reports is also what its verbose message says.
        let batchSize = currentBatchSize()
        if let ready = fresh.popFirst() {
            submit(ready, isFresh: true)
            return .submitted
        }
        guard !sourceDrained else { return .nothing }
        let asked = planner.takeCount(batchSize: batchSize)
        guard asked > 0 else { return .nothing }
        pendingTake = .dispatch(asked: asked, batchSize: batchSize, fillingWindow: window)
        emit(.take(count: asked))
        return .waitingForInputs
    }

    mutating func dispatchSucceeded(fillingWindow window: Bool) {
        if window && counters.dispatchedBatches == 1 {
            counters.iterating = configuration.preDispatch != nil
        }
    }

    mutating func dispatchFoundNothing(fillingWindow window: Bool) {
        if window {
            fillingWindow = false
            planner.closeWindow()
            owedDispatches += configuration.handOffBatches
            if configuration.preDispatch == nil { counters.iterating = false }
        } else {
            counters.iterating = false
        }
    }

    mutating func currentBatchSize() -> Int {
        switch configuration.batchSize {
        case .fixed(let size):
            return size
        case .auto:
            let (size, message) = sizer!.nextBatchSize()
            if let message, configuration.verbose >= 10 { say(message) }
            return size
        }
    }

    mutating func submit(_ range: Range<Int>, isFresh: Bool) {
        let batchID = nextBatchID
        nextBatchID += 1
        if isFresh {
            counters.dispatchedTasks += range.count
            counters.dispatchedBatches += 1
        }
        inFlight[batchID] = BatchFlight(range: range, isFresh: isFresh, size: range.count)
        emit(.submit(batchID: batchID, range: range))
    }

    /// Results held back before dispatch pauses: two rounds of batches across the workers, and
    /// never less than the pre-dispatch window.
    var backpressureLimit: Int {
        let batch: Int
        switch configuration.batchSize {
        case .fixed(let size): batch = size
        case .auto: batch = sizer?.batchSize ?? 1
        }
        let rounds = batch.multipliedReportingOverflow(by: 2 * configuration.nJobs)
        return max(rounds.overflow ? Int.max : rounds.partialValue, configuration.preDispatch ?? 0, 16)
    }

    /// The consumer took `count` results off ``takeDeliverable()``: they no longer hold dispatch
    /// back.
    package mutating func resultsConsumed(_ count: Int) {
        // A list's results are not held against backpressure (settle does not count them).
        if configuration.delivery != .list { heldResults -= count }
        pump()
        finishIfSettled()
    }

    /// The lowest submission index the call may still need an input for.
    var lowestNeededInput: Int {
        var lowest = takenCount
        for range in fresh.elements { lowest = min(lowest, range.lowerBound) }
        for range in reruns.elements { lowest = min(lowest, range.lowerBound) }
        for flight in inFlight.values { lowest = min(lowest, flight.range.lowerBound) }
        for wait in retryWaits { lowest = min(lowest, wait.index) }
        return lowest
    }
}
