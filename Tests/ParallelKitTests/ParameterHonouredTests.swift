import Foundation
@_spi(Locking) import ParallelCore
import ParallelKit
import Testing

// The audit of silently ignored parameters: every entry point, on every path a call can take
// (nJobs resolved to 1 and its array fast path; the threading backend's index loops, shared
// batches and hand-off reserve; the general engine; worker processes), is given a parameter whose
// effect can be seen — a retry policy, a progress display, a timeout — and must show that effect.
// A fast path that skips the parameter makes the matching case fail.

/// One way to hand 0..<count to `Parallel`: each entry point, with the input shapes that take
/// different paths (an `Array`, a lazy `Sequence`, an `AsyncSequence`; a random-access or a
/// forward-only collection; synchronous or `async` closures).
enum ProbeEntry: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case list, listOfLazySequence, listOfAsyncSequence
    case generator, generatorUnordered
    case results, resultGenerator, resultGeneratorUnordered
    case mapRandomAccess, mapForwardOnly, mapAsyncTransform, mapAsyncSequence
    case forEachRandomAccess, forEachForwardOnly, forEachAsyncBody, forEachAsyncSequence

    var testDescription: String { rawValue }

    /// Whether a task's failure is a value (the results modes) rather than thrown.
    var keepsGoing: Bool { [.results, .resultGenerator, .resultGeneratorUnordered].contains(self) }

    /// Runs `body` on every input of 0..<count through this entry point and returns each input's
    /// fate in input order; the throwing modes throw the first failure.
    func run(
        _ parallel: Parallel, count: Int, _ body: @escaping @Sendable (Int) throws -> Int
    ) async throws -> [Result<Int, TaskFailure>] {
        let inputs = Array(0..<count)
        let tasks = inputs.map { i in Delayed { try body(i) } }
        func succeeded(_ values: [Int]) -> [Result<Int, TaskFailure>] { values.map { .success($0) } }
        switch self {
        case .list:
            return succeeded(try await parallel(tasks))
        case .listOfLazySequence:
            return succeeded(try await parallel(inputs.lazy.map { i in Delayed { try body(i) } }))
        case .listOfAsyncSequence:
            return succeeded(try await parallel(AsyncInputs(tasks)))
        case .generator:
            var values: [Int] = []
            for try await value in parallel.generator(tasks) { values.append(value) }
            return succeeded(values)
        case .generatorUnordered:
            var values: [Int] = []
            for try await value in parallel.generatorUnordered(tasks) { values.append(value) }
            return succeeded(values.sorted())
        case .results:
            return try await parallel.results(tasks)
        case .resultGenerator:
            var fates: [Result<Int, TaskFailure>] = []
            for try await fate in parallel.resultGenerator(tasks) { fates.append(fate) }
            return fates
        case .resultGeneratorUnordered:
            var fates: [(Int, Result<Int, TaskFailure>)] = []
            for try await fate in parallel.resultGeneratorUnordered(tasks) { fates.append((fate.index, fate.result)) }
            return fates.sorted { $0.0 < $1.0 }.map(\.1)
        case .mapRandomAccess:
            return succeeded(try await parallel.map(inputs) { try body($0) })
        case .mapForwardOnly:
            return succeeded(try await parallel.map(ForwardOnly(count: count)) { try body($0) })
        case .mapAsyncTransform:
            return succeeded(try await parallel.map(inputs) { (i: Int) async throws -> Int in try body(i) })
        case .mapAsyncSequence:
            return succeeded(try await parallel.map(AsyncInputs(inputs)) { try body($0) })
        case .forEachRandomAccess, .forEachForwardOnly, .forEachAsyncBody, .forEachAsyncSequence:
            let seen = LockedValue([Int: Int]())
            let record: @Sendable (Int) throws -> Void = { i in
                let value = try body(i)
                seen.withLock { $0[i] = value }
            }
            switch self {
            case .forEachRandomAccess: try await parallel.forEach(inputs) { try record($0) }
            case .forEachForwardOnly: try await parallel.forEach(ForwardOnly(count: count)) { try record($0) }
            case .forEachAsyncBody: try await parallel.forEach(inputs) { (i: Int) async throws in try record(i) }
            default: try await parallel.forEach(AsyncInputs(inputs)) { try record($0) }
            }
            let values = seen.withLock { $0 }
            return succeeded(values.keys.sorted().map { values[$0]! })
        }
    }
}

/// A collection that is not random access, so `map`/`forEach` take their `Collection` overloads.
struct ForwardOnly: Collection, Sendable {
    let count: Int
    var startIndex: Int { 0 }
    var endIndex: Int { count }
    func index(after i: Int) -> Int { i + 1 }
    subscript(position: Int) -> Int { position }
}

/// An `AsyncSequence` over an array, for the entry points' `AsyncSequence` overloads.
struct AsyncInputs<Element: Sendable>: AsyncSequence, Sendable {
    let elements: [Element]
    init(_ elements: [Element]) { self.elements = elements }

    struct AsyncIterator: AsyncIteratorProtocol {
        var base: IndexingIterator<[Element]>
        mutating func next() async -> Element? { base.next() }
    }

    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(base: elements.makeIterator()) }
}

/// The paths a call can take, by worker count and batch size: nJobs 1 (with `.auto` and with a
/// fixed batch, which takes its inputs first), and on threads `.auto` (engine; guided index
/// loops for `map`), `batchSize: 1` (shared batches for an array; fixed-size index loops) and
/// `batchSize: 100` (the engine's hand-off reserve for an array).
struct ProbePath: CustomTestStringConvertible, Sendable {
    var nJobs: Int
    var batchSize: BatchSize
    var testDescription: String { "nJobs \(nJobs), batchSize \(batchSize)" }

    static let all = [
        ProbePath(nJobs: 1, batchSize: .auto), ProbePath(nJobs: 1, batchSize: 4),
        ProbePath(nJobs: 2, batchSize: .auto), ProbePath(nJobs: 2, batchSize: 1), ProbePath(nJobs: 2, batchSize: 100),
    ]
    static let withWorkers = all.filter { $0.nJobs > 1 }
}

/// Fails the first attempt at every seventh input (input 0 included, so every call has one),
/// then returns `input * 10`. A few failing tasks per call show that the retry policy applies;
/// failing every task made each call re-run all of them one by one, which made this suite the
/// whole test run's longest.
final class FailsFirstAttempt: Sendable {
    private let attempts = LockedValue([Int: Int]())
    struct FirstAttempt: Error {}

    func callAsFunction(_ input: Int) throws -> Int {
        let attempt = attempts.withLock { counts -> Int in
            counts[input, default: 0] += 1
            return counts[input]!
        }
        if attempt == 1 && input % 7 == 0 { throw FirstAttempt() }
        return input * 10
    }
}

/// A latch a synchronous task blocks a thread on; opened by the test once the call is over, so an
/// abandoned thread is freed. Opens by itself after `safety`, far beyond every margin.
final class ThreadLatch: Sendable {
    private let condition = LockedValue(false)
    private let signal = NSCondition()

    func wait(safety: TimeInterval = 30) {
        let deadline = Date(timeIntervalSinceNow: safety)
        signal.lock()
        defer { signal.unlock() }
        while !condition.withLock({ $0 }) {
            if !signal.wait(until: deadline) { return }
        }
    }

    func open() {
        signal.lock()
        condition.withLock { $0 = true }
        signal.broadcast()
        signal.unlock()
    }
}

/// Collects progress events.
final class ProgressLog: Sendable {
    private let events = LockedValue([ProgressEvent]())
    var progress: ParallelProgress { .handler { event in self.events.withLock { $0.append(event) } } }

    /// The call's display saw `started` first and `finished` last, and the final snapshot counts
    /// `count` completed tasks.
    func check(count: Int, sourceLocation: SourceLocation = #_sourceLocation) {
        let events = self.events.withLock { $0 }
        guard case .started? = events.first, case .finished(let last)? = events.last else {
            Issue.record("no started…finished events: \(events)", sourceLocation: sourceLocation)
            return
        }
        #expect(last.completed == count, sourceLocation: sourceLocation)
    }
}

// Serialized: run at once, the cases would be hundreds of calls in flight together, each with its
// own threads (and abandoned ones in the timeout cases), which is a load no user call makes and
// which other suites' thread counts would see.
@Suite("Parameters are honoured on every entry point and path", .serialized)
struct ParameterHonouredTests {
    /// A small call (at most 64 synchronous tasks in an array, which `callAsFunction` runs on
    /// map's index loop) and a large one.
    static let counts = [40, 300]

    @Test("progress: on Parallel, and from a scope", arguments: ProbeEntry.allCases, ProbePath.all)
    func progress(entry: ProbeEntry, path: ProbePath) async throws {
        for count in Self.counts {
            let log = ProgressLog()
            _ = try await entry.run(
                Parallel(nJobs: path.nJobs, batchSize: path.batchSize, progress: log.progress), count: count
            ) { $0 }
            log.check(count: count)

            let scoped = ProgressLog()
            _ = try await withParallelConfig(progress: scoped.progress) {
                try await entry.run(Parallel(nJobs: path.nJobs, batchSize: path.batchSize), count: count) { $0 }
            }
            scoped.check(count: count)
        }
    }

    @Test(
        "nJobs: never more tasks at once than nJobs",
        arguments: ProbeEntry.allCases,
        [(1, BatchSize.auto), (1, 100), (3, .auto), (3, 1), (3, 100)].map { ProbePath(nJobs: $0, batchSize: $1) })
    func nJobsBound(entry: ProbeEntry, path: ProbePath) async throws {
        let (nJobs, batchSize) = (path.nJobs, path.batchSize)
        for count in Self.counts {
            let state = LockedValue((inside: 0, most: 0))
            let fates = try await entry.run(Parallel(nJobs: nJobs, batchSize: batchSize), count: count) { i in
                state.withLock {
                    $0.inside += 1
                    $0.most = max($0.most, $0.inside)
                }
                // Long enough for tasks on other threads to overlap with this one.
                var spin = 0
                for k in 0..<20_000 { spin &+= k ^ i }
                state.withLock { $0.inside -= 1 }
                return spin == -1 ? -1 : i
            }
            #expect(fates.map { try? $0.get() } == Array(0..<count))
            #expect(state.withLock { $0.most } <= nJobs, "\(count) tasks")
        }
    }

    @Test("batchSize 1: the first two tasks are separate units of work on every path", arguments: ProbeEntry.allCases)
    func batchSizeOne(entry: ProbeEntry) async throws {
        // Task 0 waits until task 1 has started: only possible when they are in different batches
        // (guided or automatic batches of 300 tasks would put them in one, and the wait would end
        // at its bound).
        for count in Self.counts {
            let started = StartCounter()
            let reached = LockedValue(false)
            let fates = try await entry.run(Parallel(nJobs: 2, batchSize: 1), count: count) { i in
                if i == 1 { started.increment() }
                if i == 0 { reached.withLock { $0 = started.wait(until: 1, seconds: 10) } }
                return i
            }
            #expect(fates.map { try? $0.get() } == Array(0..<count))
            #expect(reached.withLock { $0 }, "\(count) tasks: task 1 did not start while task 0 ran")
        }
    }

    @Test(
        "timeout: a task that blocks its thread fails with .timeout (throwing modes) or as its fate",
        arguments: ProbePath.withWorkers)
    func timeout(path: ProbePath) async throws {
        // Each entry waits out the timeout: 8 at a time, a load far below the pool's limits.
        try await inGroups(of: 8, ProbeEntry.allCases) { try await Self.checkTimeout($0, path) }
    }

    /// A fate that is the expected value, or a timeout: with a timeout of a few hundred
    /// milliseconds a quick task descheduled on a loaded machine may time out too.
    static func succeededOrTimedOut<Value: Equatable>(_ fate: Result<Value, TaskFailure>, _ expected: Value) -> Bool {
        switch fate {
        case .success(let value): value == expected
        case .failure(let failure): (failure.error as? ParallelError)?.code == .timeout
        }
    }

    static func checkTimeout(_ entry: ProbeEntry, _ path: ProbePath) async throws {
        let latch = ThreadLatch()
        defer { latch.open() }
        let stuck = 7
        let parallel = Parallel(nJobs: path.nJobs, timeout: .milliseconds(300), batchSize: path.batchSize)
        do {
            let fates = try await entry.run(parallel, count: 40) { i in
                if i == stuck { latch.wait() }
                return i
            }
            guard entry.keepsGoing else {
                Issue.record("\(entry): the call returned although task \(stuck) blocked past the timeout")
                return
            }
            guard case .failure(let failure) = fates[stuck] else {
                Issue.record("\(entry): task \(stuck) did not fail: \(fates[stuck])")
                return
            }
            #expect((failure.error as? ParallelError)?.code == .timeout, "\(entry)")
            #expect(
                fates.enumerated().allSatisfy { $0.offset == stuck || Self.succeededOrTimedOut($0.element, $0.offset) })
        } catch let error as ParallelError {
            #expect(!entry.keepsGoing, "\(entry)")
            #expect(error.code == .timeout, "\(entry)")
            // The stuck task in practice; a quick task descheduled past the short timeout on a loaded
            // machine may be named first (TimeoutTests checks the exact task with 2 s margins).
            #expect(error.taskIndex != nil, "\(entry)")
        }
    }

    @Test(
        "maxFailures: once reached, the tasks not started are .notRun with 0 attempts",
        arguments: ProbeEntry.allCases.filter(\.keepsGoing), ProbePath.all)
    func maxFailures(entry: ProbeEntry, path: ProbePath) async throws {
        // Every task fails. Before the call hears of the third failure at most its pre-dispatch
        // window (4 batches of at most 100 tasks) can have started, so of 1,000 most are not run.
        let count = 1_000
        let tasks = (0..<count).map { i in Delayed { () throws -> Int in throw TestError(index: i) } }
        let parallel = Parallel(nJobs: path.nJobs, batchSize: path.batchSize)
        var fates: [Result<Int, TaskFailure>] = []
        switch entry {
        case .results:
            fates = try await parallel.results(tasks, maxFailures: 3)
        case .resultGenerator:
            for try await fate in parallel.resultGenerator(tasks, maxFailures: 3) { fates.append(fate) }
        default:
            var indexed: [(Int, Result<Int, TaskFailure>)] = []
            for try await fate in parallel.resultGeneratorUnordered(tasks, maxFailures: 3) {
                indexed.append((fate.index, fate.result))
            }
            fates = indexed.sorted { $0.0 < $1.0 }.map(\.1)
        }
        #expect(fates.count == count)
        let failures = fates.compactMap { fate -> TaskFailure? in
            if case .failure(let failure) = fate { failure } else { nil }
        }
        #expect(failures.count == count, "every task fails")
        let notRun = failures.filter { ($0.error as? ParallelError)?.code == .notRun }
        let ran = failures.count - notRun.count
        #expect(ran >= 3 && ran <= 4 * 100 + path.nJobs, "ran \(ran)")
        #expect(notRun.allSatisfy { $0.attempts == 0 })
        if path.nJobs == 1 { #expect(ran == 3) }
    }

    /// A call refused before anything runs: a bad argument on `Parallel`, or a scope value the
    /// backend cannot honour.
    struct RefusedCall: Sendable, CustomTestStringConvertible {
        var label: String
        var parallel: Parallel
        var code: ParallelError.Code
        /// Set by a scope around the call.
        var innerMaxNumThreads: Int?
        var testDescription: String { label }
    }

    static let refusedCalls: [RefusedCall] =
        BadInputTests.cases.map { RefusedCall(label: $0.label, parallel: $0.parallel, code: $0.code) } + [
            RefusedCall(
                label: "retry .attempts(0)", parallel: Parallel(nJobs: 2, retry: .attempts(0)), code: .invalidArgument),
            RefusedCall(
                label: "retry .attempts(0) with nJobs 1", parallel: Parallel(nJobs: 1, retry: .attempts(0)),
                code: .invalidArgument),
            RefusedCall(
                label: "a tempFolder that is not a folder", parallel: Parallel(nJobs: 2, tempFolder: "/dev/null"),
                code: .invalidArgument),
            RefusedCall(
                label: "a tempFolder that is not a folder, nJobs 1",
                parallel: Parallel(nJobs: 1, tempFolder: "/dev/null"), code: .invalidArgument),
            RefusedCall(
                label: "timeout 0 with nJobs 1", parallel: Parallel(nJobs: 1, timeout: .zero), code: .invalidArgument),
            RefusedCall(
                label: "a scope's innerMaxNumThreads on threads", parallel: Parallel(nJobs: 2, backend: "threading"),
                code: .invalidArgument, innerMaxNumThreads: 1),
        ]

    @Test(
        "bad arguments are refused on every entry point, before any task runs",
        arguments: refusedCalls, ProbeEntry.allCases)
    func refused(call: RefusedCall, entry: ProbeEntry) async throws {
        let ran = LockedValue(0)
        let error = await #expect(throws: ParallelError.self) {
            let run = {
                _ = try await entry.run(call.parallel, count: 20) { i in
                    ran.withLock { $0 += 1 }
                    return i
                }
            }
            if let threads = call.innerMaxNumThreads {
                try await withParallelConfig(innerMaxNumThreads: threads) { try await run() }
            } else {
                try await run()
            }
        }
        #expect(error?.code == call.code)
        #expect(ran.withLock { $0 } == 0)
    }

    @Test(
        "a generator made in a scope keeps the scope's settings when it is iterated after the scope ended",
        arguments: [ProbeEntry.generator, .generatorUnordered, .resultGenerator, .resultGeneratorUnordered])
    func generatorKeepsItsScope(entry: ProbeEntry) async throws {
        let flaky = FailsFirstAttempt()
        let log = ProgressLog()
        let tasks = (0..<50).map { i in Delayed { try flaky(i) } }
        // Made inside the scope, iterated outside it: the scope's retry policy and progress
        // display apply (before the fix, the first task's first failure was thrown).
        func inScope<T>(_ make: () -> T) throws -> T {
            try withParallelConfig(nJobs: 2, retry: .attempts(2), progress: log.progress) { make() }
        }
        var values: [Int?] = []
        switch entry {
        case .generator:
            for try await value in try inScope({ Parallel().generator(tasks) }) { values.append(value) }
        case .generatorUnordered:
            for try await value in try inScope({ Parallel().generatorUnordered(tasks) }) { values.append(value) }
        case .resultGenerator:
            for try await fate in try inScope({ Parallel().resultGenerator(tasks) }) { values.append(try? fate.get()) }
        default:
            for try await fate in try inScope({ Parallel().resultGeneratorUnordered(tasks) }) {
                values.append(try? fate.result.get())
            }
        }
        #expect(values.count == 50)
        #expect(Set(values) == Set((0..<50).map { $0 * 10 }))
        log.check(count: 50)
    }

    @Test("preDispatch below nJobs keeps map, forEach and small calls to that many tasks at once, as the engine does")
    func preDispatchBelowNJobs() async throws {
        // With one task dispatched ahead, a task that waits for another to start must wait alone:
        // the window is bounded (1 s), and a second task that starts meanwhile is a failure.
        for entry in [ProbeEntry.mapRandomAccess, .forEachRandomAccess, .list] {
            let (body, mostAtOnce) = Self.concurrencyProbe(waitingSeconds: 0.25)
            // 40 tasks: `list` is a small call, which runs on map's index loop too.
            let fates = try await entry.run(Parallel(nJobs: 2, preDispatch: 1), count: 40, body)
            #expect(fates.map { try? $0.get() } == Array(0..<40))
            #expect(mostAtOnce() == 1, "\(entry)")
        }
    }
}

extension ParameterHonouredTests {
    /// A task body that records how many tasks run at once, and whose task 0 waits up to
    /// `waitingSeconds` for a second task to start: one that starts meanwhile is a window ignored.
    static func concurrencyProbe(
        waitingSeconds: TimeInterval
    ) -> (body: @Sendable (Int) -> Int, mostAtOnce: @Sendable () -> Int) {
        let state = LockedValue((inside: 0, most: 0))
        let started = StartCounter()
        let body: @Sendable (Int) -> Int = { i in
            state.withLock {
                $0.inside += 1
                $0.most = max($0.most, $0.inside)
            }
            started.increment()
            if i == 0 { _ = started.wait(until: 2, seconds: waitingSeconds) }
            state.withLock { $0.inside -= 1 }
            return i
        }
        return (body, { state.withLock { $0.most } })
    }

    @Test("preDispatch below nJobs with a fixed batch size: shared batches and the hand-off reserve keep to it too")
    func preDispatchBelowNJobsFixedBatches() async throws {
        // 300 tasks (not a small call): batchSize 1 would share batches, 100 would queue a reserve.
        for batchSize in [1, 100] {
            let (body, mostAtOnce) = Self.concurrencyProbe(waitingSeconds: 1)
            let parallel = Parallel(nJobs: 2, preDispatch: 1, batchSize: .fixed(batchSize))
            let fates = try await ProbeEntry.list.run(parallel, count: 300, body)
            #expect(fates.map { try? $0.get() } == Array(0..<300))
            #expect(mostAtOnce() == 1, "batchSize \(batchSize)")
        }
    }
}

/// Runs `body` on every item, `width` at a time.
func inGroups<Item: Sendable>(
    of width: Int, _ items: [Item], _ body: @escaping @Sendable (Item) async throws -> Void
) async throws {
    var start = 0
    while start < items.count {
        let group = items[start..<min(start + width, items.count)]
        try await withThrowingTaskGroup(of: Void.self) { tasks in
            for item in group { tasks.addTask { try await body(item) } }
            try await tasks.waitForAll()
        }
        start += width
    }
}

/// Counts task starts; a synchronous task can wait, blocking its thread, until a number of them is
/// reached or a deadline passes.
final class StartCounter: Sendable {
    private let count = LockedValue(0)
    private let signal = NSCondition()

    func increment() {
        signal.lock()
        count.withLock { $0 += 1 }
        signal.broadcast()
        signal.unlock()
    }

    /// Whether `target` starts were reached within `seconds`.
    func wait(until target: Int, seconds: TimeInterval) -> Bool {
        let deadline = Date(timeIntervalSinceNow: seconds)
        signal.lock()
        defer { signal.unlock() }
        while count.withLock({ $0 }) < target {
            if !signal.wait(until: deadline) { return count.withLock { $0 } >= target }
        }
        return true
    }
}

// MARK: - Jobs on worker processes

/// A job whose behaviour a test chooses, the same in this process and in a worker process: a
/// first attempt at each index can fail (a marker file records the attempt, so the retry may run
/// in another process), and one index can hang.
struct ParameterProbeJob: ParallelJob {
    var index: Int
    /// A folder for attempt markers: the first attempt at every seventh index throws. `nil`: no failure.
    var failFirstAttemptIn: String?
    /// An index that hangs (until the call cancels it or its worker is killed).
    var hangingIndex: Int?

    struct FirstAttempt: Error, Codable {}

    func run() async throws -> Int {
        // As `FailsFirstAttempt`: every seventh index, 0 included.
        if let folder = failFirstAttemptIn, index % 7 == 0 {
            let marker = open("\(folder)/\(index)", O_CREAT | O_EXCL | O_WRONLY, 0o600)
            if marker >= 0 {
                close(marker)
                throw FirstAttempt()
            }
        }
        if index == hangingIndex { try await Task.sleep(for: .seconds(60)) }
        return index * 10
    }
}

/// The entry points that take `ParallelJob`s.
enum JobEntry: String, CaseIterable, CustomTestStringConvertible, Sendable {
    case list, listOfAsyncSequence, generator, generatorUnordered, results, resultGenerator, resultGeneratorUnordered
    var testDescription: String { rawValue }
    var keepsGoing: Bool { [.results, .resultGenerator, .resultGeneratorUnordered].contains(self) }

    func run(_ parallel: Parallel, _ jobs: [ParameterProbeJob]) async throws -> [Result<Int, TaskFailure>] {
        switch self {
        case .list: return try await parallel(jobs).map { .success($0) }
        case .listOfAsyncSequence: return try await parallel(AsyncInputs(jobs)).map { .success($0) }
        case .generator:
            var values: [Int] = []
            for try await value in parallel.generator(jobs) { values.append(value) }
            return values.map { .success($0) }
        case .generatorUnordered:
            var values: [Int] = []
            for try await value in parallel.generatorUnordered(jobs) { values.append(value) }
            return values.sorted().map { .success($0) }
        case .results: return try await parallel.results(jobs)
        case .resultGenerator:
            var fates: [Result<Int, TaskFailure>] = []
            for try await fate in parallel.resultGenerator(jobs) { fates.append(fate) }
            return fates
        case .resultGeneratorUnordered:
            var fates: [(Int, Result<Int, TaskFailure>)] = []
            for try await fate in parallel.resultGeneratorUnordered(jobs) { fates.append((fate.index, fate.result)) }
            return fates.sorted { $0.0 < $1.0 }.map(\.1)
        }
    }
}

/// The paths of jobs: the process backend with nJobs 1 (in the calling task) and with workers,
/// with auto batches and fixed ones.
struct JobPath: CustomTestStringConvertible, Sendable {
    var backend: BackendChoice
    var nJobs: Int
    var batchSize: BatchSize
    var testDescription: String { "\(backend), nJobs \(nJobs), batchSize \(batchSize)" }

    static let all = [
        JobPath(backend: "process", nJobs: 1, batchSize: .auto),
        JobPath(backend: "process", nJobs: 2, batchSize: .auto),
        JobPath(backend: "process", nJobs: 2, batchSize: 4), JobPath(backend: "threading", nJobs: 2, batchSize: 1),
    ]
    static let withWorkers = all.filter { $0.nJobs > 1 }
}

// The retry cases in a suite of their own, serialized as the main one is: the two run side by
// side, two calls at a time in all, which keeps the whole test run's longest suite shorter.
@Suite("Parameters are honoured: retries on every entry point and path", .serialized)
struct RetryHonouredTests {
    @Test("retry: on Parallel, and from a scope", arguments: ProbeEntry.allCases, ProbePath.all)
    func retry(entry: ProbeEntry, path: ProbePath) async throws {
        for count in ParameterHonouredTests.counts {
            let expected = (0..<count).map { $0 * 10 }
            let flaky = FailsFirstAttempt()
            let fates = try await entry.run(
                Parallel(nJobs: path.nJobs, batchSize: path.batchSize, retry: .attempts(2)), count: count
            ) { try flaky($0) }
            #expect(fates.map { try? $0.get() } == expected, "\(count) tasks")

            let scoped = FailsFirstAttempt()
            let scopedFates = try await withParallelConfig(retry: .attempts(2)) {
                try await entry.run(Parallel(nJobs: path.nJobs, batchSize: path.batchSize), count: count) {
                    try scoped($0)
                }
            }
            #expect(scopedFates.map { try? $0.get() } == expected, "\(count) tasks, scope")
        }
    }
}

// Serialized for the same reason, with worker processes.
@Suite("Parameters are honoured for jobs, on worker processes too", .serialized)
struct JobParameterHonouredTests {
    static let count = 40

    /// A fresh folder for attempt markers, removed by `body`'s end.
    func withMarkerFolder<T>(_ body: (String) async throws -> T) async throws -> T {
        let folder = FileManager.default.temporaryDirectory
            .appendingPathComponent("pk-param-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(atPath: folder) }
        return try await body(folder)
    }

    @Test("retry: on Parallel, and from a scope", arguments: JobEntry.allCases, JobPath.all)
    func retry(entry: JobEntry, path: JobPath) async throws {
        let expected = (0..<Self.count).map { $0 * 10 }
        let fates = try await withMarkerFolder { folder in
            try await entry.run(
                Parallel(nJobs: path.nJobs, backend: path.backend, batchSize: path.batchSize, retry: .attempts(2)),
                (0..<Self.count).map { ParameterProbeJob(index: $0, failFirstAttemptIn: folder) })
        }
        #expect(fates.map { try? $0.get() } == expected)
        let scoped = try await withMarkerFolder { folder in
            try await withParallelConfig(retry: .attempts(2)) {
                try await entry.run(
                    Parallel(nJobs: path.nJobs, backend: path.backend, batchSize: path.batchSize),
                    (0..<Self.count).map { ParameterProbeJob(index: $0, failFirstAttemptIn: folder) })
            }
        }
        #expect(scoped.map { try? $0.get() } == expected)
    }

    @Test("progress: on Parallel, and from a scope", arguments: JobEntry.allCases, JobPath.all)
    func progress(entry: JobEntry, path: JobPath) async throws {
        let jobs = (0..<Self.count).map { ParameterProbeJob(index: $0) }
        let log = ProgressLog()
        _ = try await entry.run(
            Parallel(nJobs: path.nJobs, backend: path.backend, batchSize: path.batchSize, progress: log.progress), jobs)
        log.check(count: Self.count)
        let scoped = ProgressLog()
        _ = try await withParallelConfig(progress: scoped.progress) {
            try await entry.run(Parallel(nJobs: path.nJobs, backend: path.backend, batchSize: path.batchSize), jobs)
        }
        scoped.check(count: Self.count)
    }

    @Test(
        "timeout: a hanging job fails with .timeout (throwing modes) or as its fate",
        arguments: JobPath.withWorkers)
    func timeout(path: JobPath) async throws {
        try await inGroups(of: 4, JobEntry.allCases) { try await Self.checkTimeout($0, path) }
    }

    static func checkTimeout(_ entry: JobEntry, _ path: JobPath) async throws {
        let stuck = 7
        let jobs = (0..<Self.count).map { ParameterProbeJob(index: $0, hangingIndex: stuck) }
        let parallel = Parallel(
            nJobs: path.nJobs, backend: path.backend, timeout: .milliseconds(500), batchSize: path.batchSize)
        do {
            let fates = try await entry.run(parallel, jobs)
            guard entry.keepsGoing else {
                Issue.record("\(entry): the call returned although job \(stuck) hung past the timeout")
                return
            }
            guard case .failure(let failure) = fates[stuck] else {
                Issue.record("\(entry): job \(stuck) did not fail: \(fates[stuck])")
                return
            }
            #expect((failure.error as? ParallelError)?.code == .timeout, "\(entry)")
            #expect(
                fates.enumerated().allSatisfy {
                    $0.offset == stuck || ParameterHonouredTests.succeededOrTimedOut($0.element, $0.offset * 10)
                })
        } catch let error as ParallelError {
            #expect(!entry.keepsGoing, "\(entry)")
            #expect(error.code == .timeout, "\(entry)")
            // See the threads' timeout check: the short timeout may name a descheduled quick job.
            #expect(error.taskIndex != nil, "\(entry)")
        }
    }
}

// MARK: - Large arrays on worker processes

/// A job that reports where its array's elements live in the worker: jobs of one worker that got
/// the array through shared memory share one storage (it is decoded once per worker); jobs that
/// got it through the pipe each have their own, all alive while their batch runs.
struct ArrayStorageJob: ParallelJob {
    var values: [Double]
    func run() async throws -> Int { values.withUnsafeBufferPointer { Int(bitPattern: $0.baseAddress) } }
}

@Suite("maxNbytes and mmapMode decide how large arrays reach worker processes", .serialized)
struct LargeArrayParameterTests {
    static let big = (0..<300_000).map { Double($0 & 1023) }  // 2.4 MB

    /// Distinct storages the 16 jobs saw.
    func storages(_ parallel: Parallel) async throws -> Int {
        Set(try await parallel((0..<16).map { _ in ArrayStorageJob(values: Self.big) })).count
    }

    @Test(
        "above maxNbytes the array is shared (one storage per worker); .disabled or a larger limit copies it per job",
        arguments: ["process", "multiprocessing"])
    func maxNbytesDecides(backend: String) async throws {
        func parallel(_ maxNbytes: MaxNbytes? = nil, _ mmapMode: MmapMode? = nil) -> Parallel {
            Parallel(
                nJobs: 2, backend: .named(backend), preDispatch: "all", batchSize: 8, maxNbytes: maxNbytes,
                mmapMode: mmapMode
            )
        }
        #expect(try await storages(parallel()) <= 2)
        #expect(try await storages(parallel("1K")) <= 2)
        #expect(try await storages(parallel(.disabled)) > 2)
        #expect(try await storages(parallel("10M")) > 2)
        #expect(try await storages(parallel(nil, .disabled)) > 2)
        #expect(try await withParallelConfig(maxNbytes: .disabled) { try await storages(parallel()) } > 2)
        #expect(try await withParallelConfig(mmapMode: .disabled) { try await storages(parallel()) } > 2)
    }
}
