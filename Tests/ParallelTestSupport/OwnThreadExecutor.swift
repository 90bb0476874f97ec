import Foundation
import ParallelCore
import Testing

// Swift Testing runs every test at once as a task of Swift's cooperative pool, which has one
// thread per core: two on the CI machine. A test that holds such a thread for long — a fuzzing
// loop, a blocking read from a child process, a timed wait on a lock — takes half the pool from
// every other test, and two of them at the start of the run stalled the whole suite: a fresh-clone
// CI run saw every test running then take 10.3 s, and timing assertions missed their bounds. Such
// tests carry `.offCooperativePool`: they run on threads of their own, in their own task (their
// task-locals, `#expect` and cancellation work as anywhere else).

/// A task executor that runs each job on a thread it owns, never on Swift's cooperative pool:
/// an idle thread when it has one, else a new one (threads stay for the next jobs, so the count
/// is the most jobs ever run at once).
///
/// - Concurrency: `@unchecked Sendable`: `jobs` and `idleThreads` are guarded by `condition`'s lock.
package final class OwnThreadExecutor: TaskExecutor, @unchecked Sendable {
    /// The executor the `.offCooperativePool` trait uses; it lives as long as the process.
    package static let shared = OwnThreadExecutor()

    /// The name of every thread of this executor (15 bytes at most, the kernel's limit).
    package static let threadName = "pk-test-thread"

    private let condition = NSCondition()
    private var jobs: [UnownedJob] = []
    private var idleThreads = 0

    private init() {}

    /// Runs `job` on an idle thread of this executor, or on a new one when none is idle.
    /// - Complexity: O(1) amortised; starts a thread only when every thread is busy.
    package func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        condition.lock()
        jobs.append(job)
        // Each idle thread takes one job; any job beyond them gets a new thread.
        let needsThread = jobs.count > idleThreads
        if !needsThread { condition.signal() }
        condition.unlock()
        guard needsThread else { return }
        if CheckedThread.start(name: Self.threadName, { [self] in run() }) != 0 {
            // No thread to be had (a thread limit): a job waiting for one would hang its test,
            // so a thread of Dispatch's pool (the cooperative pool's) takes the queue's next job.
            DispatchQueue.global().async { [self] in runOne() }
        }
    }

    /// Runs the next queued job, if another thread has not taken it.
    private func runOne() {
        condition.lock()
        let job = jobs.isEmpty ? nil : jobs.removeFirst()
        condition.unlock()
        job?.runSynchronously(on: asUnownedTaskExecutor())
    }

    private func run() {
        condition.lock()
        while true {
            while jobs.isEmpty {
                idleThreads += 1
                condition.wait()
                idleThreads -= 1
            }
            let job = jobs.removeFirst()
            condition.unlock()
            job.runSynchronously(on: asUnownedTaskExecutor())
            condition.lock()
        }
    }
}

/// Runs a test (every test of a suite) on `OwnThreadExecutor`'s threads instead of Swift's
/// cooperative pool. For tests that hold their thread for long without suspending: CPU-heavy
/// loops and blocking waits.
package struct OffCooperativePoolTrait: TestTrait, SuiteTrait, TestScoping {
    package var isRecursive: Bool { true }

    package func provideScope(
        for test: Test, testCase: Test.Case?, performing function: @Sendable () async throws -> Void
    ) async throws {
        // A suite's own scope runs no test body; its tests get this trait each (`isRecursive`).
        guard testCase != nil else {
            try await function()
            return
        }
        try await withTaskExecutorPreference(OwnThreadExecutor.shared) { try await function() }
    }
}

extension Trait where Self == OffCooperativePoolTrait {
    /// Runs the test on a thread of its own, not on Swift's cooperative pool (see
    /// `OffCooperativePoolTrait`): for a test that computes or blocks for long without suspending.
    package static var offCooperativePool: Self { Self() }
}

/// The name of the calling thread, as the kernel keeps it (15 bytes at most).
package func currentThreadName() -> String {
    let path = "/proc/self/task/\(Platform.currentThreadID())/comm"
    let text = (try? String(contentsOfFile: path, encoding: .utf8)) ?? ""
    return text.trimmingCharacters(in: .newlines)
}
