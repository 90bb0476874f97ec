import Glibc

// Foundation's `Thread.start()` ignores pthread_create's result: under a thread, process or
// address-space limit the thread silently never runs, and whoever waits for it waits for ever.
// Every thread ParallelKit starts goes through here, so a refusal is an error the
// caller can report.

/// Starts detached threads and reports when the system refuses one.
package enum CheckedThread {
    /// Starts a detached thread named `name` (at most 15 bytes are kept) running `body`.
    /// - Returns: 0, or pthread_create's error code (EAGAIN at a thread or process limit).
    /// - Concurrency: `body` runs on the new thread.
    package static func start(name: String, stackSize: Int = 8 << 20, _ body: @escaping @Sendable () -> Void) -> Int32 {
        final class Start: Sendable {
            let name: String
            let body: @Sendable () -> Void
            init(name: String, body: @escaping @Sendable () -> Void) {
                self.name = name
                self.body = body
            }
        }
        var attributes = pthread_attr_t()
        pthread_attr_init(&attributes)
        defer { pthread_attr_destroy(&attributes) }
        pthread_attr_setstacksize(&attributes, stackSize)
        pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
        let context = Unmanaged.passRetained(Start(name: name, body: body)).toOpaque()
        var thread = pthread_t()
        let result = pthread_create(
            &thread, &attributes,
            { context in
                let start = Unmanaged<Start>.fromOpaque(context!).takeRetainedValue()
                Platform.setCurrentThreadName(start.name)
                start.body()
                return nil
            }, context)
        if result != 0 { Unmanaged<Start>.fromOpaque(context).release() }
        return result
    }
}
