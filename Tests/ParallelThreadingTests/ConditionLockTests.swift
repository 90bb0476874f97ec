import Foundation
import ParallelTestSupport
import Testing

@testable import ParallelThreading

/// `ConditionLock.wait(seconds:)` tells a time-out (false) from a signal (true): the worker
/// threads' idle exit depends on it.
/// The waits block their thread (a second, or until signalled): off the cooperative pool.
@Suite(.offCooperativePool) struct ConditionLockTests {
    @Test func waitWithoutSignalTimesOut() {
        let lock = ConditionLock()
        lock.lock()
        let signalled = lock.wait(seconds: 1)
        lock.unlock()
        #expect(!signalled)
    }

    @Test func signalEndsTheWait() {
        let lock = ConditionLock()
        let state = SignalState()
        let waiter = Thread {
            lock.lock()
            state.ready.signal()
            // The flag is checked with the lock held, so a signal sent before the wait starts is
            // not lost; a spurious wake-up also returns true, hence the loop, as callers do.
            var signalled = true
            while !state.released && signalled { signalled = lock.wait(seconds: 20) }
            state.result = signalled && state.released
            lock.unlock()
            state.done.signal()
        }
        waiter.start()
        #expect(state.ready.wait(timeout: .now() + 20) == .success)
        lock.lock()
        state.released = true
        lock.signal()
        lock.unlock()
        #expect(state.done.wait(timeout: .now() + 20) == .success)
        #expect(state.result == true)
    }
}

/// Shared between the test and its waiter thread; every field is read and written with the
/// `ConditionLock` held or after `done` (hence `@unchecked Sendable`); `ready` and `done` are
/// semaphores.
private final class SignalState: @unchecked Sendable {
    var released = false
    var result: Bool?
    let ready = DispatchSemaphore(value: 0)
    let done = DispatchSemaphore(value: 0)
}
