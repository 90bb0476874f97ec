import Foundation

/// A value read and written only with an `NSLock` held: this backend's lock around its state.
///
/// Not `Synchronization.Mutex`: on Linux, ThreadSanitizer does not recognise that futex-based
/// lock, so every access under it is reported as a race, and this backend's tests run under the
/// sanitizer in CI. `NSLock` is a `pthread_mutex_t`, which the sanitizer sees.
final class Locked<Value>: @unchecked Sendable {  // `value` is only touched with `lock` held
    private let lock = NSLock()
    private var value: Value

    init(_ value: Value) { self.value = value }

    /// Runs `body` on the value with the lock held.
    func withLock<Result>(_ body: (inout Value) throws -> Result) rethrows -> Result {
        lock.lock()
        defer { lock.unlock() }
        return try body(&value)
    }
}
