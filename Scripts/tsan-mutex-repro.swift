// Why ThreadSanitizer builds use `-DPARALLELKIT_TSAN` (see Sources/ParallelCore/Support/LockedValue.swift):
// on Linux the sanitizer does not see Synchronization's futex-based `Mutex` as a lock. Run
//   swiftc -sanitize=thread Scripts/tsan-mutex-repro.swift -o /tmp/tsan-repro
//   /tmp/tsan-repro mutex     # "WARNING: ThreadSanitizer: Swift access race", yet the count is right
//   /tmp/tsan-repro pthread   # the same counter under pthread_mutex_t: no report
import Dispatch
import Glibc
import Synchronization

final class Counter: @unchecked Sendable { var value = 0 }  // guarded by the lock chosen below
let counter = Counter()
let mutex = Mutex<Void>(())
let pthreadLock = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
pthread_mutex_init(pthreadLock, nil)
let usePthread = CommandLine.arguments.dropFirst().first == "pthread"
DispatchQueue.concurrentPerform(iterations: 8) { _ in
    for _ in 0..<100_000 {
        if usePthread {
            pthread_mutex_lock(pthreadLock)
            counter.value += 1
            pthread_mutex_unlock(pthreadLock)
        } else {
            mutex.withLock { _ in counter.value += 1 }
        }
    }
}
print("count \(counter.value) (expected 800000)")
