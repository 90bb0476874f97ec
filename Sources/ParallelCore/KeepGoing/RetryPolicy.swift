import Synchronization

/// Whether, and how often, a failed task is started again before its failure counts.
///
/// It applies in every mode (lists, generators and the results modes) and on every backend. A
/// task that crashed its worker process is retried on a fresh worker; the wait before retry `k`
/// is `backoff * 2^(k-1)`, capped at 30 seconds, and is a timer of the engine — no thread sleeps.
/// Only the last failure is reported, with ``TaskFailure/attempts`` counting the starts.
///
/// ```swift
/// let outputs = try await Parallel(nJobs: 4, retry: .attempts(3, backoff: .milliseconds(100)))(jobs)
/// ```
public struct RetryPolicy: Sendable {
    /// Starts in all, 1 or more (1: no retry).
    package let maxAttempts: Int
    /// The wait before the first retry; doubles for each later one.
    package let backoff: Duration
    /// Sees each failure and says whether to retry it.
    package let shouldRetry: @Sendable (TaskFailure) -> Bool
    /// Tells policies apart in scopes (closures cannot be compared).
    package let identity: Int

    private static let counter = Atomic<Int>(0)

    private init(maxAttempts: Int, backoff: Duration, shouldRetry: @escaping @Sendable (TaskFailure) -> Bool) {
        self.maxAttempts = maxAttempts
        self.backoff = backoff
        self.shouldRetry = shouldRetry
        self.identity = Self.counter.wrappingAdd(1, ordering: .relaxed).newValue
    }

    /// No retries: a task's first failure is final. The default.
    public static let never = RetryPolicy(maxAttempts: 1, backoff: .zero, shouldRetry: { _ in false })

    /// Up to `maxAttempts` starts in all (so 3 means 2 retries).
    ///
    /// - Parameters:
    ///   - maxAttempts: starts in all, 1 or more; a call with a smaller value throws
    ///     `ParallelError(.invalidArgument)` before anything runs.
    ///   - backoff: the wait before the first retry, doubled for each later one and capped at
    ///     30 seconds; not negative.
    ///   - shouldRetry: sees each failure (with ``TaskFailure/attempts`` so far) and says whether
    ///     to retry it; called on the caller's isolation, keep it quick.
    public static func attempts(
        _ maxAttempts: Int, backoff: Duration = .zero,
        when shouldRetry: @escaping @Sendable (TaskFailure) -> Bool = { _ in true }
    ) -> RetryPolicy {
        RetryPolicy(maxAttempts: maxAttempts, backoff: backoff, shouldRetry: shouldRetry)
    }

    /// The longest wait between two starts of a task.
    package static let maximumBackoff = Duration.seconds(30)

    /// The wait before retry number `retry` (1 for the first retry).
    package func delay(beforeRetry retry: Int) -> Duration {
        guard backoff > .zero else { return .zero }
        var wait = backoff
        var step = 1
        while step < retry && wait < Self.maximumBackoff {
            wait = wait * 2
            step += 1
        }
        return min(wait, Self.maximumBackoff)
    }

    /// Checks the policy's numbers; a call does this before it takes any input.
    package func validate() throws {
        if maxAttempts < 1 {
            throw ParallelError.invalid(
                "retry", "attempts(\(maxAttempts)) allows no start at all",
                fix: "Pass .attempts(n) with n of 1 or more (3 means 2 retries), or .never.")
        }
        if backoff < .zero {
            throw ParallelError.invalid(
                "retry", "the backoff \(backoff) is negative", fix: "Pass a backoff of .zero or more.")
        }
    }
}

extension RetryPolicy: Equatable {
    /// Two policies are equal when they are the same value (their predicates cannot be compared).
    public static func == (lhs: RetryPolicy, rhs: RetryPolicy) -> Bool { lhs.identity == rhs.identity }
}
