import Foundation
import ParallelKit
import Testing

@testable import ParallelProcess

/// Returns its index; the job with a gate waits until the gate file exists (at most a minute,
/// then throws, so a broken test ends rather than hangs).
struct GatedIndexJob: ParallelJob {
    let index: Int
    let gatePath: String?

    func run() async throws -> Int {
        if let gatePath {
            let deadline = ContinuousClock.now + .seconds(60)
            while access(gatePath, F_OK) != 0 {
                guard ContinuousClock.now < deadline else {
                    throw ParallelError(.invalidArgument, "the gate \(gatePath) never opened")
                }
                try await Task.sleep(for: .milliseconds(2))
            }
        }
        return index
    }
}

/// Worker processes report how many tasks of a running batch have completed (issue 8): on the
/// status board, read by `refreshProgress()`, and through task-start notices (the path remote
/// workers use).
@Suite("Progress inside a running batch on worker processes")
struct ProgressInsideBatchTests {
    /// A temporary folder for the gate file, removed at the end.
    final class GateFolder {
        let path: String
        var gate: String { path + "/gate" }

        init() throws {
            path = NSTemporaryDirectory() + "parallelkit-gate-\(getpid())-\(UInt32.random(in: 0...UInt32.max))"
            try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: false)
        }

        func open() -> Bool { FileManager.default.createFile(atPath: gate, contents: Data()) }

        deinit { try? FileManager.default.removeItem(atPath: path) }
    }

    /// One batch of 20 jobs whose job 10 waits for `gate`, as the engine would build it for a
    /// process backend (only `portable` travels; the in-process runner must never run).
    static func gatedBatch(gate: String, tracksEachTask: Bool) -> TaskBatch {
        let jobs = (0..<20).map { GatedIndexJob(index: $0, gatePath: $0 == 10 ? gate : nil) }
        return TaskBatch(
            firstIndex: 0, count: jobs.count, progress: BatchProgress(), portable: PortableBatch(jobs: jobs),
            tracksEachTask: tracksEachTask, scope: ScopeValues(),
            runner: { _, _ in
                BatchOutcome(failure: ParallelError(.invalidArgument, "a process backend ran the batch in process"))
            })
    }

    /// Submits the gated batch, waits (refreshing when `refresh`) until exactly the ten tasks
    /// before the gate count as completed, opens the gate and checks the outcome.
    static func checkCountsInsideTheBatch(on backend: any ParallelBackend, refresh: Bool) async throws {
        let folder = try GateFolder()
        let call = try await backend.startCall(BackendCallContext(nJobs: 2))
        let batch = gatedBatch(gate: folder.gate, tracksEachTask: !refresh)
        let outcomes = AsyncStream<BatchOutcome>.makeStream()
        call.submit(batch) { outcomes.continuation.yield($0) }

        let reachedTen = await eventually(within: .seconds(30)) {
            if refresh { call.refreshProgress() }
            return batch.progress.completedTasks >= 10
        }
        #expect(reachedTen, "completed tasks seen while the batch runs: \(batch.progress.completedTasks)")
        // Task 10 is still waiting for its gate: nothing beyond it may count.
        if refresh { call.refreshProgress() }
        #expect(batch.progress.completedTasks == 10)
        #expect(batch.progress.endedAt == nil, "the batch must still be running")

        #expect(folder.open())
        var outcome: BatchOutcome?
        for await next in outcomes.stream {
            outcome = next
            break
        }
        #expect(outcome?.succeeded == true, "\(String(describing: outcome?.failure))")
        #expect(outcome?.completedCount == 20)
        #expect(outcome?.values as? [Int] == Array(0..<20))
        if let processCall = call as? ProcessCall {
            #expect(processCall.runningBoards.count == 0, "a finished batch is no longer read")
        }
        await call.finish()
    }

    @Test("refreshProgress reads per-task counts from the status board", arguments: ["process", "multiprocessing"])
    func countsFromTheStatusBoard(backend name: String) async throws {
        let backend: any ParallelBackend = name == "process" ? sharedProcessBackend : MultiprocessingBackend()
        try await Self.checkCountsInsideTheBatch(on: backend, refresh: true)
    }

    @Test(
        "end to end: a progress handler sees 10 completions inside a running batch of 20 on worker processes",
        arguments: ["process", "multiprocessing"])
    func progressHandlerSeesCountsInsideABatch(backend name: String) async throws {
        let folder = try GateFolder()
        // Two batches of 20 on two workers; job 10 (inside the first) and job 20 (the second's
        // first) wait for the gate, which only a handler that saw 10 completions opens: the
        // counts must come from inside the first batch while it still runs.
        let jobs = (0..<40).map { GatedIndexJob(index: $0, gatePath: $0 == 10 || $0 == 20 ? folder.gate : nil) }
        let gate = folder.gate
        let progress = ParallelProgress.handler { event in
            if case .progressed(let snapshot) = event, snapshot.completed >= 10 {
                _ = FileManager.default.createFile(atPath: gate, contents: Data())
            }
        }
        let parallel = Parallel(
            nJobs: 2, backend: .named(name), preDispatch: "all", batchSize: 20, progress: progress)
        #expect(try await parallel(jobs) == Array(0..<40))
    }

    @Test("task-start notices mark the tasks before them completed (remote workers' path)")
    func countsFromTaskStartNotices() async throws {
        try await Self.checkCountsInsideTheBatch(on: sharedProcessBackend, refresh: false)
    }

    @Test("F5: completed counts on the status page are range-checked")
    func completedCountsAreRangeChecked() throws {
        let (board, fd) = try StatusBoard.create()
        close(fd)
        #expect(board.completedTasks(batchID: 7, count: 10) == nil, "a fresh page holds no count")
        board.tasksCompleted(batchID: 7, count: 4)
        #expect(board.completedTasks(batchID: 7, count: 10) == 4)
        // Another batch's count (the worker's previous batch) is not this batch's progress.
        #expect(board.completedTasks(batchID: 8, count: 10) == nil)
        // Only the batch id's low half tags the count: ids 2^32 apart look alike, ids 1 apart do not.
        #expect(board.completedTasks(batchID: 7 + (1 << 32), count: 10) == 4)
        board.tasksCompleted(batchID: 7, count: 10)
        #expect(board.completedTasks(batchID: 7, count: 10) == 10)
        // Wild writes: beyond the batch, all ones, a huge count with the right tag.
        board.tasksCompleted(batchID: 7, count: 11)
        #expect(board.completedTasks(batchID: 7, count: 10) == nil)
        board.overwriteCompleted(UInt64.max)
        #expect(board.completedTasks(batchID: 7, count: 10) == nil)
        #expect(board.completedTasks(batchID: 0xFFFF_FFFF, count: 10) == nil)
        board.overwriteCompleted(StatusBoard.completedWord(batchID: 7, count: 0) | 0xFFFF_FFFF)
        #expect(board.completedTasks(batchID: 7, count: Int.max) == 0xFFFF_FFFF)
        #expect(board.completedTasks(batchID: 7, count: -1) == nil)
        // The running-task fields are untouched by counts.
        #expect(board.runningTask(batchID: 7, count: 10) == nil)
    }
}
