import Glibc

/// A pthread mutex with one condition variable, for the worker threads' wait loop
/// (`Synchronization.Mutex` has no condition variable).
///
/// `@unchecked Sendable`: the mutex and condition live in heap storage that is initialised once,
/// never moved, destroyed in `deinit`, and only touched through pthread calls, which are the
/// synchronisation themselves.
final class ConditionLock: @unchecked Sendable {
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>

    init() {
        mutex = .allocate(capacity: 1)
        condition = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        var attributes = pthread_condattr_t()
        pthread_condattr_init(&attributes)
        pthread_condattr_setclock(&attributes, CLOCK_MONOTONIC)
        pthread_cond_init(condition, &attributes)
        pthread_condattr_destroy(&attributes)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    func lock() { pthread_mutex_lock(mutex) }

    func unlock() { pthread_mutex_unlock(mutex) }

    /// Wakes one waiter. Call with the lock held.
    func signal() { pthread_cond_signal(condition) }

    /// Waits (the lock held) until signalled or until `seconds` pass; returns false on time-out.
    func wait(seconds: Int) -> Bool {
        var deadline = timespec()
        clock_gettime(CLOCK_MONOTONIC, &deadline)
        deadline.tv_sec += seconds
        return pthread_cond_timedwait(condition, mutex, &deadline) == 0
    }
}
