import ParallelKit
import Testing

/// `timeout` — a task running longer throws `ParallelError(.timeout)` naming the task; it is not
/// applied when nJobs resolves to 1. Margins are generous on both sides, for a busy 2-core
/// machine: the stuck task waits on a gate that never opens, the others return at once, and the
/// timeout (2 s) is long enough that no quick task overruns it by being descheduled, so the task
/// the error names is always the stuck one. It must fire within 60 s: far less than the stuck task
/// would take to end by itself (its gate's safety, or its sleep, is 120 s), far more than a loaded
/// machine delays it (a 10 s bound was missed at load 30 on 2 cores).
@Suite("Timeout: a stuck task fails the call, naming the task")
struct TimeoutTests {
    /// Tasks where `stuck` waits on an event that is never signalled (it only ends when cancelled).
    static func tasks(count: Int, stuck: Int, gate: Gate) -> [Delayed<Int>] {
        (0..<count).map { i in
            Delayed { () async -> Int in
                if i == stuck { await gate.wait() }
                return i
            }
        }
    }

    /// The timeout used where the test checks which task is named.
    static let timeout = Duration.seconds(2)

    /// Well past `upperBound` the stuck task would end by itself.
    static let stuckTaskSafety = Duration.seconds(120)
    /// The timeout must have fired by then (from the start of the call).
    static let upperBound = 60.0

    @Test("a task stuck past the timeout throws .timeout with its index, well before it would end", arguments: [0, 3])
    func stuckTaskTimesOut(stuck: Int) async throws {
        let gate = Gate(safety: Self.stuckTaskSafety)
        defer { gate.open() }
        let (error, seconds) = await elapsedSeconds {
            await #expect(throws: ParallelError.self) {
                try await Parallel(nJobs: 2, timeout: Self.timeout, batchSize: 1)(
                    Self.tasks(count: 10, stuck: stuck, gate: gate))
            }
        }
        #expect(error?.code == .timeout)
        #expect(error?.taskIndex == stuck)
        #expect(error?.description.contains("\(stuck)") == true)
        #expect(seconds >= 2)
        #expect(seconds < Self.upperBound, "the timeout fired after \(seconds) s")
        #expect(!gate.isOpen)
    }

    @Test(
        "inside a batch of several tasks, the timeout names the exact task, not the batch's first",
        arguments: [BatchSize.fixed(5), .fixed(10)])
    func exactTaskInBatch(batchSize: BatchSize) async throws {
        let gate = Gate()
        defer { gate.open() }
        let error = await #expect(throws: ParallelError.self) {
            try await Parallel(nJobs: 2, timeout: Self.timeout, preDispatch: .all, batchSize: batchSize)(
                Self.tasks(count: 40, stuck: 7, gate: gate))
        }
        #expect(error?.code == .timeout)
        #expect(error?.taskIndex == 7)
    }

    @Test("a timed-out task is cancelled, not left running")
    func timedOutTaskIsCancelled() async throws {
        let gate = Gate()
        let cancelled = EventCounter()
        let tasks = (0..<4).map { i in
            Delayed { () async -> Int in
                if i == 1, !(await gate.wait()) { cancelled.increment() }
                return i
            }
        }
        await #expect(throws: ParallelError.self) {
            try await Parallel(nJobs: 2, timeout: Self.timeout, batchSize: 1)(tasks)
        }
        #expect(await cancelled.wait(until: 1), "the stuck task never saw cancellation")
        gate.open()
    }

    @Test("the generators time out too", arguments: [false, true])
    func generatorTimeout(unordered: Bool) async throws {
        let gate = Gate(safety: Self.stuckTaskSafety)
        defer { gate.open() }
        let p = Parallel(nJobs: 2, timeout: Self.timeout, batchSize: 1)
        let tasks = Self.tasks(count: 10, stuck: 2, gate: gate)
        let results = unordered ? p.generatorUnordered(tasks) : p.generator(tasks)
        let (error, seconds) = await elapsedSeconds {
            await #expect(throws: ParallelError.self) {
                for try await _ in results {}
            }
        }
        #expect(error?.code == .timeout)
        #expect(error?.taskIndex == 2)
        #expect(seconds < Self.upperBound, "the timeout fired after \(seconds) s")
    }

    @Test("a long Task.sleep times out like a blocked wait")
    func sleepingTask() async throws {
        let tasks = (0..<6).map { i in
            Delayed { () async throws -> Int in
                if i == 4 { try await Task.sleep(for: Self.stuckTaskSafety) }
                return i
            }
        }
        let (error, seconds) = await elapsedSeconds {
            await #expect(throws: ParallelError.self) {
                try await Parallel(nJobs: 2, timeout: Self.timeout)(tasks)
            }
        }
        #expect(error?.code == .timeout)
        #expect(error?.taskIndex == 4)
        #expect(seconds < Self.upperBound, "the timeout fired after \(seconds) s")
    }

    @Test("test_parallel_timeout_success: a generous timeout lets quick tasks finish")
    func timeoutSuccess() async throws {
        let tasks = (0..<10).map { i in
            Delayed { () async throws -> Int in
                try await Task.sleep(for: .milliseconds(1))
                return i
            }
        }
        #expect(try await Parallel(nJobs: 2, timeout: .seconds(30))(tasks) == Array(0..<10))
        var out: [Int] = []
        for try await value in Parallel(nJobs: 2, timeout: .seconds(30)).generatorUnordered(tasks) { out.append(value) }
        #expect(out.sorted() == Array(0..<10))
    }

    @Test("the timeout is per task: many tasks each shorter than it pass although the call is longer")
    func perTaskNotPerCall() async throws {
        let tasks = (0..<120).map { i in
            Delayed { () async throws -> Int in
                try await Task.sleep(for: .milliseconds(40))
                return i
            }
        }
        // 120 × 40 ms on 2 workers is at least 2.4 s: longer than the 2 s timeout, but no task is
        // (a 40 ms sleep would have to be delayed 50-fold).
        #expect(try await Parallel(nJobs: 2, timeout: .seconds(2), batchSize: 1)(tasks) == Array(0..<120))
    }

    @Test("not applied when nJobs resolves to 1: a task longer than the timeout completes")
    func notAppliedSequentially() async throws {
        let tasks = [
            Delayed { () async throws -> Int in
                try await Task.sleep(for: .milliseconds(250))
                return 7
            }
        ]
        #expect(try await Parallel(nJobs: 1, timeout: .milliseconds(50))(tasks) == [7])
        #expect(try await Parallel(nJobs: 4, backend: "sequential", timeout: .milliseconds(50))(tasks) == [7])
    }
}
