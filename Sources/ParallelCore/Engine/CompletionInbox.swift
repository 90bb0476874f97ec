import Synchronization

/// Where backends (from any thread) and the timeout watchdog post events for the engine, which
/// waits for them on the caller's isolation.
///
/// One lock round trip per posted batch, never per task. The waiting side takes every queued
/// event at once, so a burst of completions costs one wake-up.
///
/// - Concurrency: `post` from any thread; `take`/`next` from the one engine that owns the inbox.
package final class CompletionInbox: Sendable {
    package enum Event: Sendable {
        /// A batch ended; `at` is the monotonic time the backend reported it.
        case completed(batchID: Int, outcome: BatchOutcome, at: UInt64)
        /// A task ran past the call's timeout.
        case timedOut(taskIndex: Int, at: UInt64)
        /// A wake-up the engine asked for is due.
        case timer(at: UInt64)
        /// Time to look at running batches again (posted only while the engine waits).
        case tick
    }

    private struct State {
        var events: [Event] = []
        var waiter: CheckedContinuation<[Event], any Error>?
        /// Successful completions the waiter lets pile up before it is woken.
        var wakeThreshold = 1
        var cancelled = false
    }

    private let state = LockedValue(State())
    /// Mirrors `!events.isEmpty` so the generator's fast path can skip the lock.
    private let hasEvents = Atomic<Bool>(false)
    /// Mirrors `waiter != nil`, for the harvest ticker.
    private let waiterPresent = Atomic<Bool>(false)

    package init() {}

    /// Queues an event and wakes the engine if it waits — at once for anything but a successful
    /// completion, and for those once as many are queued as the engine asked to batch up.
    package func post(_ event: Event) {
        let wake: (CheckedContinuation<[Event], any Error>, [Event])? = state.withLock { state in
            state.events.append(event)
            guard let waiter = state.waiter, event.isUrgent || state.events.count >= state.wakeThreshold else {
                hasEvents.store(true, ordering: .releasing)
                return nil
            }
            state.waiter = nil
            waiterPresent.store(false, ordering: .relaxed)
            hasEvents.store(false, ordering: .relaxed)
            defer { state.events.removeAll(keepingCapacity: true) }
            return (waiter, state.events)
        }
        if let (waiter, events) = wake { waiter.resume(returning: events) }
    }

    /// Whether the engine is waiting for an event now; one relaxed atomic load.
    package var isWaiting: Bool { waiterPresent.load(ordering: .relaxed) }

    /// Whether events are queued; one relaxed atomic load, for polling between results.
    package var hasPendingEvents: Bool { hasEvents.load(ordering: .relaxed) }

    /// Every queued event, without waiting.
    package func takeAvailable() -> [Event] {
        guard hasEvents.load(ordering: .acquiring) else { return [] }
        return state.withLock { state in
            defer {
                state.events.removeAll(keepingCapacity: true)
                hasEvents.store(false, ordering: .relaxed)
            }
            return state.events
        }
    }

    /// Waits until events are queued and returns them all: until one is, or, with
    /// `completions` above 1, until that many successful completions are (any other event wakes
    /// the engine at once). The driver batches completions up while the backend's queue holds
    /// enough work, so it refills that queue in bulk rather than waking once per batch.
    /// - Throws: `CancellationError` when the waiting task is cancelled.
    package func next(
        batchingUpTo completions: Int = 1, isolation: isolated (any Actor)? = #isolation
    ) async throws -> [Event] {
        let ready = takeAvailable()
        if !ready.isEmpty { return ready }
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation(isolation: isolation) {
                (continuation: CheckedContinuation<[Event], any Error>) in
                let immediate: Result<[Event], any Error>? = state.withLock { state in
                    if state.cancelled { return .failure(CancellationError()) }
                    if !state.events.isEmpty {
                        defer {
                            state.events.removeAll(keepingCapacity: true)
                            hasEvents.store(false, ordering: .relaxed)
                        }
                        return .success(state.events)
                    }
                    state.waiter = continuation
                    state.wakeThreshold = max(completions, 1)
                    waiterPresent.store(true, ordering: .relaxed)
                    return nil
                }
                if let immediate { continuation.resume(with: immediate) }
            }
        } onCancel: {
            let waiter = state.withLock { state -> CheckedContinuation<[Event], any Error>? in
                state.cancelled = true
                waiterPresent.store(false, ordering: .relaxed)
                defer { state.waiter = nil }
                return state.waiter
            }
            waiter?.resume(throwing: CancellationError())
        }
    }
}

extension CompletionInbox.Event {
    /// Whether the engine must hear of this at once: anything but a batch that succeeded.
    var isUrgent: Bool {
        if case .completed(_, let outcome, _) = self { return outcome.failure != nil }
        return true
    }
}
