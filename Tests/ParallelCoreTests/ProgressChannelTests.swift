import Dispatch
import Synchronization
import Testing

@testable import ParallelCore

/// ``ProgressChannel``: the event rules of `ParallelProgress.handler`, driven with a fake clock.
@Suite("ProgressChannel: progress events, rate limit, serial delivery")
struct ProgressChannelTests {
    static func channel(_ recorder: EventRecorder, clock: FakeClock) -> ProgressChannel {
        ProgressChannel(recorder.progress, nestingLevel: 0, clock: clock.function)
    }

    @Test("started first and finished last, once each, with per-task counts and the total")
    func startedAndFinishedOnce() async {
        let recorder = EventRecorder()
        let clock = FakeClock()
        let channel = Self.channel(recorder, clock: clock)
        channel.start(total: 10, backend: "threading", nJobs: 2, now: clock.set(seconds: 0))
        for i in 1...10 { channel.tasksCompleted(count: 1, now: clock.set(seconds: Double(i))) }
        channel.finish(now: clock.set(seconds: 10.5))
        channel.finish(now: clock.set(seconds: 11))  // a second finish reports nothing
        channel.tasksCompleted(count: 1, now: clock.set(seconds: 12))  // nor does anything after
        await channel.waitUntilDelivered()

        let kinds = recorder.recorded.map(\.kind)
        #expect(kinds.first == .started)
        #expect(kinds.last == .finished)
        #expect(kinds.filter { $0 == .started }.count == 1)
        #expect(kinds.filter { $0 == .finished }.count == 1)
        // One completion a second is well under the rate limit: each is its own event (the
        // handler may get fewer when it falls behind: waiting ones merge into the newest).
        #expect(channel.progressedEmitted == 10)
        let delivered = recorder.progressed.map(\.completed)
        #expect(delivered == delivered.sorted() && Set(delivered).count == delivered.count && delivered.last == 10)
        guard case .started(let first) = recorder.recorded.first, case .finished(let last) = recorder.recorded.last
        else {
            Issue.record("no started/finished")
            return
        }
        #expect(first == ProgressSnapshot(backend: "threading", nJobs: 2, total: 10))
        #expect(last.completed == 10 && last.total == 10 && last.failed == 0)
        #expect(last.elapsed == .milliseconds(10_500))
        #expect(!recorder.wasCalledConcurrently)
    }

    @Test("finish without start still reports started, then finished (a call that failed early)")
    func finishWithoutStart() async {
        let recorder = EventRecorder()
        let clock = FakeClock()
        let channel = Self.channel(recorder, clock: clock)
        channel.finish(now: clock.set(seconds: 1))
        await channel.waitUntilDelivered()
        #expect(recorder.recorded.map(\.kind) == [.started, .finished])
    }

    @Test("a channel released without finish still reports finished, last and once")
    func releasedWithoutFinish() async {
        let recorder = EventRecorder()
        let finished = Signal()
        let watcher = EventRecorder { event in
            recorder.progress.deliverForTest(event)
            if case .finished = event { finished.fire() }
        }
        do {
            let clock = FakeClock()
            let channel = ProgressChannel(watcher.progress, nestingLevel: 0, clock: clock.function)
            channel.start(total: 3, backend: "threading", nJobs: 2, now: clock.set(seconds: 0))
            channel.tasksCompleted(count: 2, now: clock.set(seconds: 1))
        }
        #expect(await finished.wait())
        #expect(watcher.recorded.map(\.kind).first == .started)
        #expect(watcher.recorded.map(\.kind).last == .finished)
        #expect(watcher.recorded.filter { $0.kind == .finished }.count == 1)
        #expect(watcher.snapshots.last?.completed == 2)
    }

    @Test("total is nil until the input's length is known")
    func totalUnknownThenKnown() async {
        let sawThree = Signal()
        let recorder = EventRecorder { event in
            if case .progressed(let s) = event, s.completed == 3 { sawThree.fire() }
        }
        let clock = FakeClock()
        let channel = Self.channel(recorder, clock: clock)
        channel.start(total: nil, backend: "sequential", nJobs: 1, now: clock.set(seconds: 0))
        channel.tasksCompleted(count: 3, now: clock.set(seconds: 1))
        // Delivered before the total becomes known (else the two would merge into one event): an
        // event, not a deadline.
        #expect(await sawThree.wait())
        channel.totalBecameKnown(5)
        channel.tasksCompleted(count: 2, now: clock.set(seconds: 2))
        channel.finish(now: clock.set(seconds: 2))
        await channel.waitUntilDelivered()
        #expect(recorder.progressed.map(\.total) == [nil, 5])
        #expect(recorder.progressed.first?.estimatedRemaining == nil)
        #expect(recorder.snapshots.last?.total == 5)
    }

    @Test("progressed at most once per 50 ms, the trailing completions still reported")
    func rateLimited() async {
        let recorder = EventRecorder()
        let clock = FakeClock()
        let channel = Self.channel(recorder, clock: clock)
        channel.start(total: 1000, backend: "threading", nJobs: 2, now: clock.set(seconds: 0))
        for i in 1...1000 { channel.tasksCompleted(count: 1, now: clock.set(seconds: Double(i) / 1000)) }
        channel.finish(now: clock.set(seconds: 1))
        await channel.waitUntilDelivered()

        let progressed = recorder.progressed
        // 1 s of completions every millisecond: about 20 events, never 1000.
        #expect(channel.progressedEmitted >= 15 && channel.progressedEmitted <= 21)
        #expect(progressed.count <= channel.progressedEmitted)
        for (a, b) in zip(progressed, progressed.dropFirst()) {
            #expect(b.elapsed - a.elapsed >= .milliseconds(50))
            #expect(b.completed > a.completed)
        }
        #expect(recorder.snapshots.last?.completed == 1000)
    }

    @Test("a completion inside the interval is reported at its end without waiting for another")
    func trailingEvent() async {
        let sawSecond = Signal()
        let recorder = EventRecorder { event in
            if case .progressed(let s) = event, s.completed == 2 { sawSecond.fire() }
        }
        let clock = FakeClock()
        let channel = Self.channel(recorder, clock: clock)
        channel.start(total: 10, backend: "threading", nJobs: 2, now: clock.set(seconds: 0))
        channel.tasksCompleted(count: 1, now: clock.set(seconds: 0.100))
        channel.tasksCompleted(count: 1, now: clock.set(seconds: 0.110))  // inside the 50 ms
        clock.set(seconds: 0.200)  // time passes; no more completions
        #expect(await sawSecond.wait())
        channel.finish(now: clock.set(seconds: 0.3))
        await channel.waitUntilDelivered()
        #expect(recorder.progressed.map(\.completed) == [1, 2])
    }

    @Test("taskFailed comes once per failed attempt; failed and retried are counted apart")
    func failures() async {
        let recorder = EventRecorder()
        let clock = FakeClock()
        let channel = Self.channel(recorder, clock: clock)
        channel.start(total: 4, backend: "process", nJobs: 2, now: clock.set(seconds: 0))
        struct Boom: Error {}
        channel.taskFailed(
            TaskFailure(taskIndex: 1, error: Boom(), attempts: 1), willRetry: true, now: clock.set(seconds: 1))
        channel.taskFailed(
            TaskFailure(taskIndex: 1, error: Boom(), attempts: 2), willRetry: false, now: clock.set(seconds: 2))
        channel.tasksCompleted(count: 3, now: clock.set(seconds: 3))
        channel.finish(now: clock.set(seconds: 3))
        await channel.waitUntilDelivered()
        let failures = recorder.recorded.compactMap { event -> (Int, Int, Bool)? in
            if case .taskFailed(let f, let retry) = event { (f.taskIndex, f.attempts, retry) } else { nil }
        }
        #expect(failures.map(\.0) == [1, 1])
        #expect(failures.map(\.1) == [1, 2])
        #expect(failures.map(\.2) == [true, false])
        let last = recorder.snapshots.last
        #expect(last?.failed == 1 && last?.retried == 1 && last?.completed == 3 && last?.settled == 4)
    }

    @Test("the handler is never called concurrently and sees events in order, driven from 4 threads")
    func serialDelivery() async {
        let recorder = EventRecorder { _ in
            // A handler that takes time, so deliveries would overlap if they could.
            var x = 0
            for i in 0..<20_000 { x &+= i }
            precondition(x != 1)
        }
        let channel = ProgressChannel(recorder.progress, nestingLevel: 0, minimumInterval: .zero)
        channel.start(total: 4000, backend: "threading", nJobs: 4, now: MonotonicClock.now())
        struct Boom: Error {}
        DispatchQueue.concurrentPerform(iterations: 4) { lane in
            for i in 0..<1000 {
                channel.tasksCompleted(count: 1, now: MonotonicClock.now())
                if i % 100 == 0 {
                    channel.taskFailed(
                        TaskFailure(taskIndex: lane * 1000 + i, error: Boom(), attempts: 1), willRetry: true,
                        now: MonotonicClock.now())
                }
            }
        }
        channel.finish(now: MonotonicClock.now())
        await channel.waitUntilDelivered()

        #expect(!recorder.wasCalledConcurrently)
        let kinds = recorder.recorded.map(\.kind)
        #expect(kinds.first == .started && kinds.last == .finished)
        #expect(kinds.filter { $0 == .taskFailed(retry: true) }.count == 40)  // failures never merged away
        let counts = recorder.progressed.map(\.completed)
        #expect(counts == counts.sorted())
        #expect(recorder.snapshots.last?.completed == 4000 && recorder.snapshots.last?.retried == 40)
    }

    @Test("a handler that blocks never blocks the engine; waiting progressed events are merged")
    func slowHandlerDoesNotBlock() async {
        let gate = DispatchSemaphore(value: 0)
        let engineDone = Atomic<Bool>(false)
        let engineWasDoneWhileHandlerStuck = Atomic<Bool>(false)
        let recorder = EventRecorder { event in
            if case .started = event {
                gate.wait()  // the handler is stuck until the engine has finished
                engineWasDoneWhileHandlerStuck.store(engineDone.load(ordering: .acquiring), ordering: .releasing)
            }
        }
        let channel = ProgressChannel(recorder.progress, nestingLevel: 0, minimumInterval: .zero)
        channel.start(total: 10_000, backend: "threading", nJobs: 2, now: MonotonicClock.now())
        // A safety valve so a regression fails instead of hanging: opens the gate after 10 s.
        DispatchQueue.global().asyncAfter(deadline: .now() + 10) { gate.signal() }
        for _ in 0..<10_000 { channel.tasksCompleted(count: 1, now: MonotonicClock.now()) }
        channel.finish(now: MonotonicClock.now())
        engineDone.store(true, ordering: .releasing)
        gate.signal()
        await channel.waitUntilDelivered()

        let engineFinishedFirst = engineWasDoneWhileHandlerStuck.load(ordering: .acquiring)
        #expect(engineFinishedFirst)
        // All 10 000 completions arrived while the handler was stuck: one merged event.
        #expect(recorder.recorded.map(\.kind) == [.started, .progressed, .finished])
        #expect(recorder.progressed.first?.completed == 10_000)
    }

    @Test("the rate and ETA follow a steady 10 tasks a second; nil before the first measure")
    func rateAndETA() async {
        let recorder = EventRecorder()
        let clock = FakeClock()
        let channel = Self.channel(recorder, clock: clock)
        channel.start(total: 100, backend: "threading", nJobs: 2, now: clock.set(seconds: 0))
        for i in 1...50 { channel.tasksCompleted(count: 1, now: clock.set(seconds: Double(i) / 10)) }
        channel.finish(now: clock.set(seconds: 5))
        await channel.waitUntilDelivered()
        guard case .started(let first) = recorder.recorded.first else { return }
        #expect(first.tasksPerSecond == nil && first.estimatedRemaining == nil)
        let last = recorder.progressed.last!
        #expect(abs(last.tasksPerSecond! - 10) < 0.5)
        #expect(abs(last.estimatedRemaining!.seconds - 5) < 0.5)
    }

    @Test("none, and a bar inside a task, report nothing")
    func inactive() async {
        #expect(!ProgressChannel(.none).isActive)
        let pipe = OutputPipe()
        let terminal = ProgressTerminal(fileDescriptor: pipe.writer, environment: [:])
        let nested = ProgressChannel(.bar, terminal: terminal, nestingLevel: 1)
        #expect(!nested.isActive)
        nested.start(total: 3, backend: "threading", nJobs: 2, now: MonotonicClock.now())
        nested.tasksCompleted(count: 3, now: MonotonicClock.now())
        nested.finish(now: MonotonicClock.now())
        await nested.waitUntilDelivered()
        #expect(pipe.readAvailable() == "")
        let outer = ProgressChannel(.bar, terminal: terminal, nestingLevel: 0)
        #expect(outer.isActive)
        // Finished while the pipe is open: a channel released unfinished finishes itself, and
        // must not write to a descriptor number another test has since been given.
        outer.finish(now: MonotonicClock.now())
        await outer.waitUntilDelivered()
        #expect(pipe.readAvailable().hasSuffix("[Parallel, 0 jobs] done 0 tasks, in 0:00\n"))
    }
}

/// ``SmoothedRate``: the time-weighted estimator behind `tasksPerSecond`.
@Suite("SmoothedRate: exponentially weighted over time")
struct SmoothedRateTests {
    static func at(_ seconds: Double) -> UInt64 { 1_000_000_000 + UInt64(seconds * 1e9) }

    @Test("no measure before a sample; the first measure is the plain rate, not biased to 0")
    func firstMeasure() {
        var rate = SmoothedRate(start: Self.at(0))
        #expect(rate.tasksPerSecond == nil)
        rate.record(count: 5, at: Self.at(1))
        #expect(abs(rate.tasksPerSecond! - 5) < 1e-9)
    }

    @Test("completions closer than the minimum span are pooled, not an absurd instant rate")
    func pooled() {
        var rate = SmoothedRate(start: Self.at(0))
        rate.record(count: 1, at: Self.at(0.000_001))
        #expect(rate.tasksPerSecond == nil)
        rate.record(count: 1, at: Self.at(0.1))
        #expect(abs(rate.tasksPerSecond! - 20) < 1e-6)
    }

    @Test("after a change of speed, 15 s of new data weigh 90 %")
    func timeConstant() {
        var rate = SmoothedRate(start: Self.at(0))
        for i in 1...300 { rate.record(count: 10, at: Self.at(Double(i) / 10)) }  // 100/s for 30 s
        for i in 1...150 { rate.record(count: 1, at: Self.at(30 + Double(i) / 10)) }  // 10/s for 15 s
        // 0.9 * 10 + 0.1 * 100 (up to the 30 s-old tail weighing a little less) ≈ 19.
        #expect(abs(rate.tasksPerSecond! - 19) < 1)
    }

    @Test("a burst of one batch's completions counts by time, not by number of updates")
    func burstIsOneInterval() {
        var steady = SmoothedRate(start: Self.at(0))
        var bursty = SmoothedRate(start: Self.at(0))
        for second in 1...20 {
            steady.record(count: 100, at: Self.at(Double(second)))
            for _ in 0..<100 { bursty.record(count: 1, at: Self.at(Double(second))) }
        }
        #expect(abs(steady.tasksPerSecond! - bursty.tasksPerSecond!) < 1e-6)
    }
}
