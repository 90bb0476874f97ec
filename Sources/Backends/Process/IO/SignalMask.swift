import Glibc

// Writing to a pipe whose reader has died raises SIGPIPE, whose default action ends the process:
// a crashed worker must not take the parent down. All pipe writes happen on the event loop thread,
// which blocks SIGPIPE for itself only (the user's own handling stays untouched); a write then
// fails with EPIPE, and the blocked, pending signal is discarded.

enum SignalMask {
    /// Blocks SIGPIPE on the calling thread.
    static func blockSIGPIPEOnThisThread() {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGPIPE)
        pthread_sigmask(SIG_BLOCK, &set, nil)
    }

    /// Consumes a SIGPIPE pending for this thread, if any, without waiting.
    static func discardPendingSIGPIPE() {
        var set = sigset_t()
        sigemptyset(&set)
        sigaddset(&set, SIGPIPE)
        var pending = sigset_t()
        guard sigpending(&pending) == 0, sigismember(&pending, SIGPIPE) == 1 else { return }
        var zero = timespec(tv_sec: 0, tv_nsec: 0)
        _ = sigtimedwait(&set, nil, &zero)
    }
}
