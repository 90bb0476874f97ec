@_spi(Locking) import ParallelCore
import ParallelKit
import Testing

/// The hand-off: for an input already in memory and a fixed batch size, the engine keeps a
/// reserve of batches queued at an in-process backend beyond joblib's window, so workers take
/// their next batch without waking the caller, and the caller refills the queue in bulk. A lazy
/// input keeps exactly joblib's window.
@Suite("Hand-off: a queued reserve refilled in bulk")
struct HandOffTests {
    /// Holds every batch until the test completes it; records how many were outstanding at most
    /// and how many batches each submission carried.
    final class HoldingBackend: ParallelBackend {
        struct State {
            var held: [(batch: TaskBatch, completion: @Sendable (BatchOutcome) -> Void)] = []
            var outstanding = 0
            var maxOutstanding = 0
            var submissionSizes: [Int] = []
        }

        let state = LockedValue(State())
        let submitted = EventCounter()

        var displayName: String { "HoldingBackend" }

        func startCall(_ context: BackendCallContext) async throws -> any BackendCall { Call(owner: self) }

        func hold(_ submissions: [BatchSubmission]) {
            state.withLock { state in
                for submission in submissions { state.held.append((submission.batch, submission.completion)) }
                state.outstanding += submissions.count
                state.maxOutstanding = max(state.maxOutstanding, state.outstanding)
                state.submissionSizes.append(submissions.count)
            }
            for _ in submissions { submitted.increment() }
        }

        /// Runs and completes up to `count` held batches, oldest first; returns how many.
        @discardableResult
        func complete(_ count: Int) async -> Int {
            let taken = state.withLock { state -> [(batch: TaskBatch, completion: @Sendable (BatchOutcome) -> Void)] in
                let taken = Array(state.held.prefix(count))
                state.held.removeFirst(taken.count)
                state.outstanding -= taken.count
                return taken
            }
            for entry in taken { entry.completion(await entry.batch.run()) }
            return taken.count
        }

        final class Call: BackendCall {
            let owner: HoldingBackend
            init(owner: HoldingBackend) { self.owner = owner }

            func submit(_ batch: TaskBatch, completion: @escaping @Sendable (BatchOutcome) -> Void) {
                owner.hold([BatchSubmission(batch: batch, completion: completion)])
            }

            func submit(_ submissions: [BatchSubmission]) { owner.hold(submissions) }

            func abort() {}
        }
    }

    /// Completes held batches 66 at a time, each round waiting until the engine has paid every
    /// completion back with a new batch, until all `total` single-task batches have run.
    static func runToEnd(_ backend: HoldingBackend, total: Int, queuedAhead: Int) async {
        var completed = 0
        while completed < total {
            completed += await backend.complete(66)
            let expected = min(total, queuedAhead + completed)
            let refilled = await backend.submitted.wait(until: expected)
            #expect(refilled, "the engine refilled the queue after \(completed) completions")
            if !refilled { return }
        }
    }

    @Test(
        "an Array input with batchSize 1: joblib's window plus 64 batches per worker are queued, and refills come in bulk"
    )
    func arrayInputKeepsAReserve() async throws {
        let backend = HoldingBackend()
        let tasks = (0..<2_000).map { i in delayed { i * 2 }() }
        let parallel = Parallel(nJobs: 2, backend: .instance(backend), batchSize: 1)
        let call = Task { try await parallel(tasks) }
        // joblib's window (4 tasks) plus the reserve (64 per worker), all before any completes.
        #expect(await backend.submitted.wait(until: 132))
        await Self.runToEnd(backend, total: 2_000, queuedAhead: 132)
        #expect(try await call.value == (0..<2_000).map { $0 * 2 })
        let state = backend.state.withLock { ($0.maxOutstanding, $0.submissionSizes) }
        #expect(state.0 == 132, "never more than the window and the reserve")
        #expect(state.1.contains { $0 > 1 }, "the queue is refilled in bulk: \(state.1.prefix(20))")
    }

    @Test("a lazy input keeps exactly joblib's window: nothing is taken ahead of it")
    func lazyInputKeepsJoblibsWindow() async throws {
        let backend = HoldingBackend()
        let tasks = (0..<200).lazy.map { i in delayed { i * 2 }() }
        let parallel = Parallel(nJobs: 2, backend: .instance(backend), batchSize: 1)
        let call = Task { try await parallel(tasks) }
        #expect(await backend.submitted.wait(until: 4))
        await Self.runToEnd(backend, total: 200, queuedAhead: 4)
        #expect(try await call.value == (0..<200).map { $0 * 2 })
        #expect(backend.state.withLock { $0.maxOutstanding } == 4)
    }
}
