import Dispatch
import ParallelTestSupport
import Testing

/// The test support's `.offCooperativePool`: a test that computes or blocks for long runs on a
/// thread of `OwnThreadExecutor`, so it leaves Swift's cooperative pool to the other tests (two
/// such tests on the pool's two threads once stalled the whole suite for 10 s).
@Suite("Test support: .offCooperativePool")
struct OffCooperativePoolTests {
    @Test(
        ".offCooperativePool runs the test on an executor thread, in its own task, also after it suspends",
        .offCooperativePool)
    func runsOnAThreadOfItsOwn() async {
        #expect(currentThreadName() == OwnThreadExecutor.threadName)
        // Still the test's task: Swift Testing's task-locals are there (so `#expect` is attributed).
        #expect(Test.current?.name == "runsOnAThreadOfItsOwn()")
        await Task.yield()
        #expect(currentThreadName() == OwnThreadExecutor.threadName)
    }

    @Test("without it a test runs on the cooperative pool, not on an executor thread")
    func withoutTheTraitTheTestIsOnThePool() {
        #expect(currentThreadName() != OwnThreadExecutor.threadName)
    }

    /// Two jobs that each block until the other has started: on an executor with fewer threads
    /// than blocked jobs, the second would wait until the first gave up (20 s).
    @Test("jobs that block at once get a thread each")
    func blockedJobsGetAThreadEach() async {
        let first = DispatchSemaphore(value: 0)
        let second = DispatchSemaphore(value: 0)
        let met = await withTaskExecutorPreference(OwnThreadExecutor.shared) {
            async let a = Self.meet(signalling: first, waitingFor: second)
            async let b = Self.meet(signalling: second, waitingFor: first)
            return await [a, b]
        }
        #expect(met == [true, true])
    }

    /// Signals `mine`, then blocks until `other` is signalled (20 s at most), on the executor the
    /// calling task prefers.
    private static func meet(signalling mine: DispatchSemaphore, waitingFor other: DispatchSemaphore) async -> Bool {
        #expect(currentThreadName() == OwnThreadExecutor.threadName)
        mine.signal()
        return other.wait(timeout: .now() + 20) == .success
    }
}
