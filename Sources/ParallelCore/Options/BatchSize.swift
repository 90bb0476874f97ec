/// How many tasks go to a worker at once: joblib's `batch_size`.
///
/// `.auto` (the default) sizes batches from how long they take, per the backend's
/// ``AutoBatchingPolicy``; an integer literal fixes the size. A size of 0 or less is reported when
/// the call starts, as a ``ParallelError`` with code `.invalidArgument`.
public enum BatchSize: Hashable, Sendable, ExpressibleByIntegerLiteral, CustomStringConvertible {
    /// Adaptive: grow batches while they finish fast, shrink them when they take too long, and
    /// use small batches at the tail of the input.
    case auto
    /// Exactly this many tasks per batch (smaller at the tail of the input, as in joblib).
    case fixed(Int)

    /// A fixed size.
    public init(integerLiteral value: Int) { self = .fixed(value) }

    /// `auto` or the number.
    public var description: String {
        switch self {
        case .auto: "auto"
        case .fixed(let n): String(n)
        }
    }

    /// Checks the value.
    /// - Throws: ``ParallelError`` `.invalidArgument` for a fixed size below 1.
    package func validate() throws {
        if case .fixed(let n) = self, n < 1 {
            throw ParallelError.invalid(
                "batchSize", "\(n) is not a positive number of tasks",
                fix: "Use .auto or an integer of 1 or more.")
        }
    }
}
