import Glibc

/// A pthread mutex with one condition variable, for the worker threads' wait loop
/// (`Synchronization.Mutex` has no condition variable).
///
/// `@unchecked Sendable`: the mutex and condition live in heap storage that is initialised once,
/// never moved, destroyed in `deinit`, and only touched through pthread calls, which are the
/// synchronisation themselves.
///
/// Every pthread call's result is checked. On Linux these calls fail only when the lock is misused
/// (unlocking a mutex this thread does not hold, waiting without holding it, a corrupt object):
/// continuing would let two threads into the guarded state, so a failure stops the program with
/// the call and its error number rather than being read as a time-out or as success.
final class ConditionLock: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>

    init() {
        mutex = .allocate(capacity: 1)
        condition = .allocate(capacity: 1)
        Self.check(pthread_mutex_init(mutex, nil), "pthread_mutex_init")
        var attributes = pthread_condattr_t()
        Self.check(pthread_condattr_init(&attributes), "pthread_condattr_init")
        Self.check(pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC), "pthread_condattr_setclock")
        Self.check(pthread_cond_init(condition, &attributes), "pthread_cond_init")
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    func lock() { Self.check(pthread_mutex_lock(mutex), "pthread_mutex_lock") }

    func unlock() { Self.check(pthread_mutex_unlock(mutex), "pthread_mutex_unlock") }

    /// Wakes one waiter. Call with the lock held.
    func signal() { Self.check(pthread_cond_signal(condition), "pthread_cond_signal") }

    /// Waits (the lock held) until signalled or until `seconds` pass; returns false on time-out.
    /// A spurious wake-up returns true, as a signal does: callers re-check their condition.
    func wait(seconds: Int) -> Bool {
        var deadline = timespec()
        Self.check(clock_gettime(CLOCK_MONOTONIC, &deadline) == 0 ? 0 : errno, "clock_gettime")
        deadline.tv_sec += seconds
        let result = pthread_cond_timedwait(condition, mutex, &deadline)
        if result == ETIMEDOUT { return false }
        Self.check(result, "pthread_cond_timedwait")
        return true
    }

    /// Stops the program when a pthread call reports an error (see the type's comment).
    private static func check(_ result: Int32, _ call: StaticString) {
        guard result != 0 else { return }
        fatalError("ConditionLock: \(call) failed with error \(result) (\(String(cString: strerror(result))))")
    }
}
