import Testing

@testable import ParallelCore

/// The engine's decisions, table-tested on the state machine alone: no threads, no clock, no
/// backend. A ``Harness`` plays the driver: it answers takes from a counted input, records
/// submissions, and reports completions, timeouts and timer events with times the test chooses.
@Suite("CallStateMachine: the engine's decisions as events in, actions out")
struct CallStateMachineTests {
    struct Boom: Error, Equatable { var index: Int }

    /// Plays the driver for a machine over `inputs` inputs whose task i outputs i * 10.
    struct Harness {
        var machine: CallStateMachine<Int>
        var inputsLeft: Int
        var submitted: [(batchID: Int, range: Range<Int>)] = []
        var open: [Int: Range<Int>] = [:]
        var taken = 0
        var log: [EngineAction] = []

        init(_ configuration: CallStateMachine<Int>.Configuration, inputs: Int) {
            machine = CallStateMachine(configuration)
            inputsLeft = inputs
        }

        mutating func drain() {
            while let action = machine.nextAction() {
                log.append(action)
                switch action {
                case .take(let count):
                    let n = min(count, inputsLeft)
                    inputsLeft -= n
                    taken += n
                    machine.inputsTaken(n)
                case .takeRest:
                    let n = inputsLeft
                    inputsLeft = 0
                    taken += n
                    machine.inputsTaken(n)
                case .submit(let batchID, let range):
                    submitted.append((batchID, range))
                    open[batchID] = range
                case .abandon(let batchID):
                    open[batchID] = nil
                default:
                    break
                }
            }
        }

        mutating func start() {
            machine.start(now: 1)
            drain()
        }

        /// Completes batch `batchID` with every task succeeding.
        mutating func succeed(_ batchID: Int, now: UInt64 = 2) {
            let range = open.removeValue(forKey: batchID)!
            machine.batchCompleted(
                batchID, .init(values: range.map { $0 * 10 }, completedCount: range.count, failure: nil, duration: 0.5),
                now: now)
            drain()
        }

        /// Completes batch `batchID` with the task at `offset` throwing.
        mutating func fail(
            _ batchID: Int, atOffset offset: Int, _ error: any Error, keepPrefix: Bool = true,
            attributed: Bool = true, now: UInt64 = 2
        ) {
            let range = open.removeValue(forKey: batchID)!
            let values = keepPrefix ? Array(range.prefix(offset)).map { $0 * 10 } : nil
            machine.batchCompleted(
                batchID,
                .init(
                    values: values, completedCount: offset, failure: error, isFailureAttributed: attributed,
                    duration: 0.5),
                now: now)
            drain()
        }

        /// The batch that holds task `index`.
        func batch(holding index: Int) -> Int {
            open.first { $0.value.contains(index) }!.key
        }

        /// Completes every open batch successfully, repeatedly, until nothing is open.
        mutating func succeedAll() {
            while let next = open.keys.min() { succeed(next) }
        }

        /// Every delivered run, flattened to per-task fates.
        mutating func delivered() -> [Int: Result<Int, TaskFailure>] {
            var fates: [Int: Result<Int, TaskFailure>] = [:]
            while let next = machine.takeDeliverable() {
                switch next.run {
                case .succeeded(let values):
                    for (offset, value) in values.enumerated() { fates[next.firstIndex + offset] = .success(value) }
                case .failed(let failure):
                    fates[next.firstIndex] = .failure(failure)
                }
                machine.resultsConsumed(next.run.count)
                drain()
            }
            return fates
        }
    }

    static func configuration(
        nJobs: Int = 2, preDispatch: Int? = 4, batchSize: BatchSize = 1,
        delivery: CallStateMachine<Int>.Delivery = .list, keepsGoing: Bool = false, maxFailures: Int? = nil,
        retry: RetryPolicy = .never, knownCount: Int? = nil
    ) -> CallStateMachine<Int>.Configuration {
        .init(
            nJobs: nJobs, preDispatch: preDispatch, batchSize: batchSize, delivery: delivery, keepsGoing: keepsGoing,
            maxFailures: maxFailures, retry: retry, timeout: .seconds(1), knownCount: knownCount)
    }

    // MARK: - Dispatch rules

    @Test("the pre-dispatch window is dispatched at the start, then one batch per completion")
    func preDispatchWindow() {
        var h = Harness(Self.configuration(), inputs: 10)
        h.start()
        #expect(h.submitted.map(\.range) == [0..<1, 1..<2, 2..<3, 3..<4])
        #expect(h.taken == 4, "no more than the window is taken before a result is in")
        h.succeed(0)
        #expect(h.submitted.map(\.range).last == 4..<5)
        #expect(h.taken == 6, "one take of batchSize * nJobs, split into nJobs batches")
        h.succeedAll()
        #expect(h.machine.isFinished)
        #expect(h.machine.listResults == (0..<10).map { $0 * 10 })
        #expect(h.log.last == .finishCall)
    }

    @Test(
        "joblib's batch sequences, window then tail rule",
        arguments: [
            (20, 4, [2, 2, 3, 3, 3, 3, 1, 1, 1, 1]),
            (20, nil, [3, 3, 3, 3, 3, 3, 1, 1]),
        ] as [(Int, Int?, [Int])])
    func joblibBatchSequences(tasks: Int, preDispatch: Int?, expected: [Int]) {
        var h = Harness(Self.configuration(preDispatch: preDispatch, batchSize: 3), inputs: tasks)
        h.start()
        while let next = h.submitted.first(where: { h.open[$0.batchID] != nil }) { h.succeed(next.batchID) }
        #expect(h.submitted.map(\.range.count) == expected)
        #expect(h.machine.listResults.count == tasks)
    }

    @Test("a generator's backpressure holds dispatch until the consumer takes results")
    func backpressure() {
        var h = Harness(Self.configuration(preDispatch: 4, delivery: .ordered), inputs: 100)
        h.start()
        // The limit is max(2 * nJobs * batch, window, 16) = 16 held results.
        for _ in 0..<40 {
            guard let next = h.open.keys.min() else { break }
            h.succeed(next)
        }
        #expect(h.open.isEmpty, "dispatch paused while results wait")
        #expect(h.taken < 30, "took \(h.taken) inputs with nothing consumed")
        let fates = h.delivered()
        #expect(fates.count >= 16)
        #expect(!h.open.isEmpty, "consuming results resumes dispatch")
    }

    // MARK: - Failures in the throwing modes

    @Test("the first failure wins; later completions are ignored")
    func firstFailureWins() {
        var h = Harness(Self.configuration(), inputs: 10)
        h.start()
        h.fail(1, atOffset: 0, Boom(index: 1))
        #expect((h.machine.failure as? Boom) == Boom(index: 1))
        #expect(h.machine.isOver)
        #expect(h.log.filter { $0 == .abortCall }.count == 1)
        let actionsBefore = h.log.count
        h.fail(0, atOffset: 0, Boom(index: 0))
        h.succeed(2)
        #expect((h.machine.failure as? Boom) == Boom(index: 1), "a later failure does not replace the first")
        #expect(h.log.count == actionsBefore, "completions after the abort do nothing")
    }

    @Test("a timeout in a throwing mode ends the call with .timeout naming the task")
    func timeoutEndsThrowingCall() {
        var h = Harness(Self.configuration(batchSize: 2), inputs: 8)
        h.start()
        h.machine.taskTimedOut(3, now: 5)
        h.drain()
        let error = h.machine.failure as? ParallelError
        #expect(error?.code == .timeout)
        #expect(error?.taskIndex == 3)
        #expect(h.log.contains(.abortCall))
    }

    @Test("a crash attributed to one task blames it; its batch-mates run again")
    func attributedCrash() throws {
        var h = Harness(
            Self.configuration(preDispatch: nil, batchSize: 4, delivery: .list, keepsGoing: true), inputs: 8)
        h.start()
        let crash = ParallelError(.workerCrashed, taskIndex: 2, "crashed")
        h.fail(0, atOffset: 2, crash, keepPrefix: false)
        // Tasks 0, 1 (results lost) and 3 (never ran) are re-run; task 2 is blamed.
        let reruns = h.submitted.suffix(2).map(\.range)
        #expect(reruns == [0..<2, 3..<4])
        h.succeedAll()
        let fates = h.delivered()
        #expect(fates.count == 8)
        for index in 0..<8 where index != 2 { #expect(try fates[index]?.get() == index * 10) }
        guard case .failure(let failure)? = fates[2] else {
            Issue.record("task 2 is not a failure")
            return
        }
        #expect((failure.error as? ParallelError)?.code == .workerCrashed)
        #expect(failure.attempts == 1)
    }

    @Test("a crash nobody can attribute is bisected until a task crashes alone")
    func bisection() throws {
        var h = Harness(
            Self.configuration(preDispatch: nil, batchSize: 8, delivery: .list, keepsGoing: true), inputs: 8)
        h.start()
        let crash = ParallelError(.workerCrashed, "crashed")
        // The poison task is 5; a batch containing it crashes unattributed.
        var rounds = 0
        while !h.open.isEmpty && rounds < 50 {
            rounds += 1
            let (batchID, range) = h.open.min { $0.key < $1.key }!
            if range.contains(5) {
                h.fail(batchID, atOffset: 0, crash, keepPrefix: false, attributed: false)
            } else {
                h.succeed(batchID)
            }
        }
        let fates = h.delivered()
        #expect(fates.count == 8)
        for index in 0..<8 where index != 5 { #expect(try fates[index]?.get() == index * 10, "task \(index)") }
        if case .failure(let failure)? = fates[5] {
            #expect(failure.taskIndex == 5)
        } else {
            Issue.record("task 5 is not blamed")
        }
        #expect(h.submitted.map(\.range).contains(5..<6), "the poison task ran alone")
    }

    // MARK: - Keeping going

    @Test("results mode: failures are values, every index appears once, successes are kept")
    func keepGoing() throws {
        var h = Harness(Self.configuration(delivery: .ordered, keepsGoing: true), inputs: 6)
        h.start()
        h.fail(h.batch(holding: 1), atOffset: 0, Boom(index: 1))
        h.succeedAll()
        var fates = h.delivered()
        while !h.open.isEmpty {
            h.succeedAll()
            fates.merge(h.delivered()) { a, _ in a }
        }
        #expect(fates.count == 6)
        #expect(h.machine.failure == nil)
        if case .failure(let failure)? = fates[1] {
            #expect((failure.error as? Boom) == Boom(index: 1))
        } else {
            Issue.record("task 1 should have failed")
        }
        #expect(try fates[4]?.get() == 40)
    }

    @Test("retry with backoff: a timer action, then the task runs again and succeeds")
    func retryWithBackoff() {
        let retry = RetryPolicy.attempts(3, backoff: .milliseconds(100))
        var h = Harness(Self.configuration(preDispatch: 2, retry: retry), inputs: 2)
        h.start()
        h.fail(h.batch(holding: 0), atOffset: 0, Boom(index: 0), now: 1_000)
        #expect(h.log.contains(.wakeUp(at: 1_000 + 100_000_000)))
        #expect(!h.machine.isOver)
        h.succeed(h.batch(holding: 1))
        #expect(!h.machine.isFinished, "the retry is still pending")
        h.machine.timerFired(now: 1_000 + 100_000_000)
        h.drain()
        #expect(h.submitted.last?.range == 0..<1)
        h.succeedAll()
        #expect(h.machine.isFinished)
        #expect(h.machine.listResults == [0, 10])
    }

    @Test("the retry predicate decides; the second wait doubles")
    func retryPredicateAndDoubling() {
        #expect(RetryPolicy.attempts(4, backoff: .seconds(1)).delay(beforeRetry: 2) == .seconds(2))
        #expect(RetryPolicy.attempts(40, backoff: .seconds(1)).delay(beforeRetry: 30) == .seconds(30))
        let retry = RetryPolicy.attempts(3, when: { ($0.error as? Boom)?.index != 0 })
        var h = Harness(Self.configuration(preDispatch: 2, retry: retry), inputs: 2)
        h.start()
        h.fail(h.batch(holding: 0), atOffset: 0, Boom(index: 0))
        #expect((h.machine.failure as? Boom) == Boom(index: 0), "the predicate refused the retry")
    }

    @Test("maxFailures: after n final failures nothing starts; the rest are .notRun with 0 attempts")
    func maxFailures() throws {
        var h = Harness(
            Self.configuration(preDispatch: 2, delivery: .list, keepsGoing: true, maxFailures: 1), inputs: 10)
        h.start()
        h.fail(h.batch(holding: 0), atOffset: 0, Boom(index: 0))
        #expect(h.log.contains(.takeRest))
        h.succeedAll()
        #expect(h.machine.isFinished)
        let fates = h.delivered()
        #expect(fates.count == 10)
        #expect(try fates[1]?.get() == 10, "a task already running keeps its result")
        let notRun = fates.values.filter {
            if case .failure(let f) = $0 { return (f.error as? ParallelError)?.code == .notRun && f.attempts == 0 }
            return false
        }
        #expect(notRun.count == 8)
    }

    @Test("a timeout in results mode abandons the batch, fails the task and re-runs its batch-mates")
    func timeoutKeepsGoing() throws {
        var h = Harness(
            Self.configuration(preDispatch: nil, batchSize: 3, delivery: .list, keepsGoing: true), inputs: 3)
        h.start()
        let stuck = h.batch(holding: 1)
        h.machine.taskTimedOut(1, now: 9)
        h.drain()
        #expect(h.log.contains(.abandon(batchID: stuck)))
        h.succeedAll()
        // A late completion of the abandoned batch is ignored.
        h.machine.batchCompleted(
            stuck, .init(values: [0, 10, 20], completedCount: 3, failure: nil, duration: 1), now: 10)
        h.drain()
        let fates = h.delivered()
        #expect(fates.count == 3)
        #expect(try fates[0]?.get() == 0)
        #expect(try fates[2]?.get() == 20)
        if case .failure(let failure)? = fates[1] {
            #expect((failure.error as? ParallelError)?.code == .timeout)
        } else {
            Issue.record("task 1 should have timed out")
        }
    }

    @Test("cancellation aborts once, and nothing runs after it")
    func cancellation() {
        var h = Harness(Self.configuration(), inputs: 10)
        h.start()
        h.machine.abort()
        h.drain()
        h.machine.abort()
        h.drain()
        #expect(h.log.filter { $0 == .abortCall }.count == 1)
        let count = h.submitted.count
        h.succeed(0)
        #expect(h.submitted.count == count)
    }

    @Test("a backend reporting a wrong result count is an error, not a crash")
    func wrongResultCount() {
        var h = Harness(Self.configuration(), inputs: 2)
        h.start()
        h.machine.batchCompleted(0, .init(values: [], completedCount: 0, failure: nil, duration: 0), now: 3)
        h.drain()
        #expect((h.machine.failure as? ParallelError)?.code == .invalidArgument)
    }
}

extension CallStateMachineTests {
    @Test("retries of tasks spread over the input settle every task")
    func retriesSettleEverything() {
        var h = Harness(Self.configuration(preDispatch: 4, batchSize: 3, retry: .attempts(3)), inputs: 20)
        h.start()
        var failures: [Int: Int] = [:]
        var rounds = 0
        while let (batchID, range) = h.open.min(by: { $0.key < $1.key }), rounds < 500 {
            rounds += 1
            if let bad = range.first(where: { $0 % 5 == 0 && failures[$0, default: 0] < 2 }) {
                failures[bad, default: 0] += 1
                h.fail(batchID, atOffset: bad - range.lowerBound, Boom(index: bad))
            } else {
                h.succeed(batchID)
            }
        }
        #expect(h.machine.isFinished, "state: \(h.open) taken \(h.taken)")
        #expect(h.machine.listResults == (0..<20).map { $0 * 10 })
    }

    // MARK: - Per-task completion inside running batches

    @Test("a prefix settled while its batch runs is delivered at once and not again; the batch's end settles the rest")
    func prefixSettledWhileRunning() {
        var h = Harness(Self.configuration(preDispatch: 8, batchSize: 4, delivery: .ordered), inputs: 8)
        h.start()
        let (first, range) = h.submitted[0]
        #expect(range == 0..<4)
        h.machine.batchPrefixCompleted(first, values: [0, 10], now: 2)
        h.drain()
        let early = h.delivered().mapValues { try? $0.get() }
        #expect(early == [0: 0, 1: 10])
        // The batch's end reports only the tasks after the settled prefix.
        h.open[first] = 2..<4
        h.succeed(first)
        h.succeedAll()
        let rest = h.delivered()
        #expect(rest.keys.sorted() == Array(2..<8))
        #expect(h.machine.isFinished)
    }

    @Test("after a prefix settled, a timeout abandons and re-runs only the tasks still awaited")
    func timeoutAfterPrefix() {
        var h = Harness(
            Self.configuration(preDispatch: 8, batchSize: 4, delivery: .ordered, keepsGoing: true), inputs: 8)
        h.start()
        let (first, _) = h.submitted[0]
        h.machine.batchPrefixCompleted(first, values: [0], now: 2)
        h.drain()
        h.machine.taskTimedOut(2, now: 3)
        h.drain()
        let reruns = h.submitted.dropFirst(2).map(\.range)
        #expect(reruns.contains(1..<2) && reruns.contains(3..<4), "re-runs: \(reruns)")
        #expect(!reruns.contains { $0.contains(0) }, "task 0 settled already: \(reruns)")
        h.succeedAll()
        let fates = h.delivered()
        #expect(fates.count == 8)
        #expect((try? fates[2]?.get()) == nil)
    }

    @Test(
        "counts a backend reports inside a running batch reach progress once, and the batch's end does not count them again"
    )
    func countsAheadAreNotCountedTwice() {
        var configuration = Self.configuration(preDispatch: 8, batchSize: 4)
        configuration.reportsProgress = true
        var h = Harness(configuration, inputs: 8)
        h.start()
        let (first, _) = h.submitted[0]
        h.machine.batchTasksCompleted(first, upTo: 3)
        h.machine.batchTasksCompleted(first, upTo: 2)
        h.machine.batchTasksCompleted(first, upTo: 3)
        h.drain()
        h.succeedAll()
        var counted = 0
        for case .progress(.completed(let count)) in h.log { counted += count }
        #expect(counted == 8)
        #expect(h.log.contains(.progress(.completed(count: 3))))
    }

    @Test(
        "tasks counted ahead in a batch that crashed are not counted again when they re-run and are counted ahead again"
    )
    func countsAheadOfACrashedBatchAreNotCountedTwice() {
        var configuration = Self.configuration(preDispatch: 8, batchSize: 4, keepsGoing: true)
        configuration.reportsProgress = true
        var h = Harness(configuration, inputs: 8)
        h.start()
        let (first, range) = h.submitted[0]
        #expect(range == 0..<4)
        // The worker's status board says tasks 0 and 1 completed; then task 2 crashes the worker,
        // and the outputs of 0 and 1 die with it: they run again.
        h.machine.batchTasksCompleted(first, upTo: 2)
        h.drain()
        let crash = ParallelError(.workerCrashed, taskIndex: 2, "crashed")
        h.fail(first, atOffset: 2, crash, keepPrefix: false)
        let rerun = h.batch(holding: 0)
        // The re-run's board reports the same two tasks again before the re-run ends.
        h.machine.batchTasksCompleted(rerun, upTo: 2)
        h.drain()
        h.succeedAll()
        var counted = 0
        for case .progress(.completed(let count)) in h.log { counted += count }
        #expect(counted == 7, "every task but 2 completed, each counted once (counted \(counted))")
        #expect(h.machine.isFinished)
    }

    @Test(
        "maxFailures reached while a take is pending: that take's inputs and the rest of the input all settle as .notRun"
    )
    func stopWhileATakeIsPending() {
        var h = Harness(
            Self.configuration(preDispatch: 2, delivery: .list, keepsGoing: true, maxFailures: 2), inputs: 50)
        h.start()
        let first = h.submitted[0].batchID
        let second = h.submitted[1].batchID
        // Two failures reported in one burst: the first pays back a dispatch (a take), the second
        // stops the call before the driver answers that take.
        h.machine.batchCompleted(
            first, .init(values: [], completedCount: 0, failure: Boom(index: 0), duration: 0.1), now: 2)
        h.machine.batchCompleted(
            second, .init(values: [], completedCount: 0, failure: Boom(index: 1), duration: 0.1), now: 2)
        h.drain()
        h.succeedAll()
        let fates = h.delivered()
        #expect(fates.count == 50, "every input has a fate (\(fates.count))")
        #expect(h.machine.isFinished)
        let notRun = fates.values.filter {
            if case .failure(let failure) = $0 { return (failure.error as? ParallelError)?.code == .notRun }
            return false
        }
        #expect(notRun.count == 48)
    }

    @Test("batches completing out of order still list their results in input order, and generators get them in order")
    func outOfOrderCompletions() {
        for delivery in [CallStateMachine<Int>.Delivery.list, .ordered] {
            var h = Harness(Self.configuration(preDispatch: 4, delivery: delivery), inputs: 12)
            h.start()
            // Complete the open batches newest first, each time, until none is left; a generator's
            // consumer takes what is deliverable in between (which lets more batches start).
            var order: [Int] = []
            repeat {
                while let newest = h.open.keys.max() { h.succeed(newest) }
                while let next = h.machine.takeDeliverable() {
                    if case .succeeded(let values) = next.run { order += values }
                    h.machine.resultsConsumed(next.run.count)
                    h.drain()
                }
            } while !h.open.isEmpty
            let expected = (0..<12).map { $0 * 10 }
            #expect((delivery == .list ? h.machine.listResults : order) == expected)
            #expect(h.machine.isFinished)
        }
    }

    @Test("inputs are released as batches settle, unless the configuration says releasing frees nothing")
    func releasingInputs() {
        func releases(_ releasesInputs: Bool) -> [Int] {
            var configuration = Self.configuration(preDispatch: 2)
            configuration.releasesInputs = releasesInputs
            var h = Harness(configuration, inputs: 6)
            h.start()
            h.succeedAll()
            #expect(h.machine.listResults == (0..<6).map { $0 * 10 })
            return h.log.compactMap { if case .releaseInputs(let below) = $0 { below } else { nil } }
        }
        let released = releases(true)
        #expect(!released.isEmpty)
        #expect(released == released.sorted(), "the released prefix only grows")
        #expect(releases(false).isEmpty)
    }

    @Test("results collected at the end: list delivery keeps going, every fate is delivered once, in order")
    func resultsAtTheEnd() throws {
        var h = Harness(Self.configuration(preDispatch: 2, delivery: .list, keepsGoing: true), inputs: 9)
        h.start()
        h.fail(h.batch(holding: 1), atOffset: 0, Boom(index: 1))
        var fates: [Int: Result<Int, TaskFailure>] = [:]
        var order: [Int] = []
        while !h.machine.isOver || h.machine.hasDeliverable {
            h.succeedAll()
            while let next = h.machine.takeDeliverable() {
                order.append(next.firstIndex)
                switch next.run {
                case .succeeded(let values):
                    for (offset, value) in values.enumerated() { fates[next.firstIndex + offset] = .success(value) }
                case .failed(let failure):
                    fates[next.firstIndex] = .failure(failure)
                }
                h.machine.resultsConsumed(next.run.count)
                h.drain()
            }
        }
        #expect(fates.count == 9)
        #expect(order == order.sorted(), "runs come in submission order")
        #expect(h.machine.isFinished)
        #expect(h.machine.failure == nil)
        if case .failure(let failure)? = fates[1] {
            #expect((failure.error as? Boom) == Boom(index: 1))
        } else {
            Issue.record("task 1 should have failed")
        }
        #expect(try fates[8]?.get() == 80)
    }
}
