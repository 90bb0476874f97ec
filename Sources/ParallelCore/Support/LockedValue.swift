import Synchronization

#if PARALLELKIT_TSAN
import Glibc
#endif

/// A value that is only read and written with a lock held: the project's one lock around shared
/// state (use it instead of `Mutex`; CI checks that nothing else uses `Mutex`).
///
/// In ordinary builds it is the standard library's `Mutex`, unchanged: a futex, stored inline, no
/// allocation. ThreadSanitizer cannot see that futex as a lock on Linux, so it reports every
/// access made under it as a data race (`Scripts/tsan-mutex-repro.swift` shows it). Builds for the
/// sanitizer therefore pass `-Xswiftc -DPARALLELKIT_TSAN`, under which the lock is a
/// `pthread_mutex_t`, which the sanitizer intercepts; what is guarded by what stays the same, so
/// a report from such a build is a real race.
///
/// Public only as SPI (`@_spi(Locking) import ParallelCore`) and not part of the API: `package`
/// declarations are not inlined into other modules, and this must be, as `Mutex` is.
///
/// - Concurrency: ``withLock(_:)`` runs its body with the lock held, so bodies on one value run
///   one at a time, each seeing the writes of those before it. Not reentrant: calling
///   ``withLock(_:)`` on the same value from inside its body is a programming error (a deadlock
///   or a trap).
@_spi(Locking)
public struct LockedValue<Value>: ~Copyable, Sendable {
    #if PARALLELKIT_TSAN
    @usableFromInline let storage: PthreadLockedStorage<Value>
    #else
    @usableFromInline let mutex: Mutex<Value>
    #endif

    /// A lock guarding `initialValue`.
    @inlinable
    public init(_ initialValue: consuming sending Value) {
        #if PARALLELKIT_TSAN
        storage = PthreadLockedStorage(initialValue)
        #else
        mutex = Mutex(initialValue)
        #endif
    }

    /// Runs `body` on the value with the lock held and returns what it returns.
    /// - Complexity: one uncontended lock and unlock when no other thread holds the lock.
    @inlinable
    public borrowing func withLock<Result: ~Copyable, E: Error>(
        _ body: (inout sending Value) throws(E) -> sending Result
    ) throws(E) -> sending Result {
        #if PARALLELKIT_TSAN
        return try storage.withLock(body)
        #else
        return try mutex.withLock(body)
        #endif
    }
}

#if PARALLELKIT_TSAN
/// The sanitizer build's storage for ``LockedValue``: the value and a `pthread_mutex_t` at a
/// fixed address (a mutex must not move once initialised, so it lives on the heap).
///
/// The mutex checks for errors, so locking it twice from one thread traps as `Mutex` does
/// instead of deadlocking silently.
@usableFromInline
final class PthreadLockedStorage<Value>: @unchecked Sendable {  // `value`: only under `mutex`
    @usableFromInline let mutex: UnsafeMutablePointer<pthread_mutex_t>
    @usableFromInline var value: Value

    @usableFromInline
    init(_ initialValue: consuming sending Value) {
        value = initialValue
        mutex = .allocate(capacity: 1)
        var attributes = pthread_mutexattr_t()
        pthread_mutexattr_init(&attributes)
        pthread_mutexattr_settype(&attributes, Int32(PTHREAD_MUTEX_ERRORCHECK))
        let status = pthread_mutex_init(mutex, &attributes)
        pthread_mutexattr_destroy(&attributes)
        precondition(status == 0, "pthread_mutex_init failed: \(status)")
    }

    deinit {
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
    }

    @inlinable
    func withLock<Result: ~Copyable, E: Error>(
        _ body: (inout sending Value) throws(E) -> sending Result
    ) throws(E) -> sending Result {
        let locked = pthread_mutex_lock(mutex)
        precondition(locked == 0, "pthread_mutex_lock failed: \(locked) (locked twice from one thread?)")
        defer { pthread_mutex_unlock(mutex) }
        return try body(&value)
    }
}
#endif
