#if canImport(Glibc)
import Glibc
#elseif canImport(Musl)
import Musl
#elseif canImport(Darwin)
import Darwin
#endif

/// Marks the threads that are running a `concurrentPerform` iteration for this backend, with the
/// iteration's index, in a POSIX thread-specific slot (a thread property, unlike a task-local).
enum WorkerMark {
    private static let key: pthread_key_t = {
        var key = pthread_key_t()
        let status = pthread_key_create(&key, nil)
        precondition(status == 0, "pthread_key_create failed: \(status)")
        return key
    }()

    /// Marks the current thread as running `iteration`.
    static func set(_ iteration: Int) {
        pthread_setspecific(key, UnsafeRawPointer(bitPattern: iteration + 1))
    }

    /// Clears the current thread's mark.
    static func clear() {
        pthread_setspecific(key, nil)
    }

    /// The current thread's iteration, or `nil`.
    static var current: Int? {
        pthread_getspecific(key).map { Int(bitPattern: $0) - 1 }
    }
}
