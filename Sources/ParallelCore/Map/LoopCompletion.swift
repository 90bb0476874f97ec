import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The moment a parallel loop is finished, for whoever waits for it: a thread that blocks (the
/// caller that joined the loop) or a suspended task (a caller that awaits it).
///
/// The finish is set once by the participant that leaves the loop last; a later participant
/// that arrives after the end and finds nothing to do may set it again, which changes nothing.
///
/// `@unchecked Sendable`: `waiter` and `finishedUnderLock` are only touched with `mutex` held,
/// and the mutex and condition variable live in heap storage created once, destroyed in `deinit`
/// and used only through pthread calls. `finished` is an atomic, set with release ordering after
/// the participants' last writes, read with acquire ordering.
final class LoopCompletion: @unchecked Sendable {
    private let finished = Atomic<Bool>(false)
    private let mutex: UnsafeMutablePointer<pthread_mutex_t>
    private let condition: UnsafeMutablePointer<pthread_cond_t>
    private var finishedUnderLock = false
    private var threadIsWaiting = false
    private var waiter: UnsafeContinuation<Void, Never>?

    init() {
        mutex = .allocate(capacity: 1)
        condition = .allocate(capacity: 1)
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        condition.deallocate()
        mutex.deallocate()
    }

    /// Whether the loop has finished (acquire: the participants' writes are visible after `true`).
    var isFinished: Bool { finished.load(ordering: .acquiring) }

    /// Marks the loop finished and wakes whoever waits.
    func finish() {
        finished.store(true, ordering: .releasing)
        pthread_mutex_lock(mutex)
        finishedUnderLock = true
        let continuation = waiter
        waiter = nil
        if threadIsWaiting { pthread_cond_broadcast(condition) }
        pthread_mutex_unlock(mutex)
        continuation?.resume()
    }

    /// Blocks this thread until the loop has finished: a short spin first, since the last
    /// participants are usually within one small batch of the end, then a condition variable.
    func waitBlocking() {
        for _ in 0..<4_000 {
            if isFinished { return }
        }
        pthread_mutex_lock(mutex)
        threadIsWaiting = true
        while !finishedUnderLock { pthread_cond_wait(condition, mutex) }
        pthread_mutex_unlock(mutex)
    }

    /// Suspends the calling task until the loop has finished.
    nonisolated(nonsending) func wait() async {
        if isFinished { return }
        await withUnsafeContinuation { (continuation: UnsafeContinuation<Void, Never>) in
            pthread_mutex_lock(mutex)
            if finishedUnderLock {
                pthread_mutex_unlock(mutex)
                continuation.resume()
                return
            }
            waiter = continuation
            pthread_mutex_unlock(mutex)
        }
    }
}
